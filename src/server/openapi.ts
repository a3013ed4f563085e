/** /openapi.json, generated from the same zod schemas that validate requests. */
import { z } from "zod";
import { ErrorSchema, LossReportSchema, RemoteRunSchema } from "./schemas.js";

const json = (schema: z.ZodType) => ({
  "application/json": { schema: z.toJSONSchema(schema, { io: "input" }) },
});
const error = { description: "error", content: json(ErrorSchema) };
const runId = { name: "id", in: "path", required: true, schema: { type: "string" } };
const epoch = {
  name: "epoch",
  in: "path",
  required: true,
  schema: { type: "integer", minimum: 0 },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "InfoBatch control plane", version: "0.1.0" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": { get: { security: [], responses: { 200: { description: "alive" } } } },
      "/v1/runs": {
        get: { summary: "List runs", responses: { 200: { description: "runs" } } },
        post: {
          summary: "Start a run",
          requestBody: { required: true, content: json(RemoteRunSchema) },
          responses: { 201: { description: "the run" }, 400: error, 401: error, 413: error },
        },
      },
      "/v1/runs/{id}": {
        get: { parameters: [runId], responses: { 200: { description: "the run" }, 404: error } },
      },
      "/v1/runs/{id}/cancel": {
        post: { parameters: [runId], responses: { 200: { description: "the run" }, 404: error } },
      },
      "/v1/runs/{id}/savings": {
        get: {
          parameters: [runId],
          responses: { 200: { description: "savings per epoch and total" }, 404: error },
        },
      },
      "/v1/runs/{id}/epochs/{epoch}/plan": {
        get: {
          summary: "This rank's share of the epoch's plan",
          parameters: [
            runId,
            epoch,
            { name: "rank", in: "query", required: true, schema: { type: "integer", minimum: 0 } },
            {
              name: "world",
              in: "query",
              required: false,
              schema: { type: "integer", minimum: 1 },
            },
          ],
          responses: {
            200: {
              description:
                "JSON {epoch, rank, world, size, ids, weights}; with Accept: application/octet-stream, u32 size, u32 ids[size], f32 weights[size] (little-endian)",
            },
            400: error,
            404: error,
            409: error,
          },
        },
      },
      "/v1/runs/{id}/epochs/{epoch}/close": {
        post: {
          parameters: [runId, epoch],
          responses: { 200: { description: "the run" }, 409: error },
        },
      },
      "/v1/runs/{id}/losses": {
        post: {
          summary: "Report a batch's losses (idempotent on epoch, step, rank)",
          parameters: [runId],
          requestBody: { required: true, content: json(LossReportSchema) },
          responses: {
            200: { description: "{applied, duplicate, epochClosed}" },
            400: error,
            404: error,
            409: error,
            413: error,
          },
        },
      },
    },
  };
}
