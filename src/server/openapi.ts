/** /openapi.json, generated from the same zod schemas that validate requests. */
import { z } from "zod";
import { BINARY_REPORT } from "./losses.js";
import {
  ErrorSchema,
  EvaluationSchema,
  LossReportSchema,
  RecipeReferenceSchema,
  RecipeSchema,
} from "./schemas.js";

const json = (schema: z.ZodType) => ({
  "application/json": { schema: z.toJSONSchema(schema, { io: "input" }) },
});
const error = { description: "error", content: json(ErrorSchema) };
/** The binary loss report (losses.ts, docs/binary-reports.md). */
const binaryReport = {
  [BINARY_REPORT.contentType]: {
    schema: {
      type: "string",
      format: "binary",
      description: [
        `A binary loss report: per-example losses only, exactly ${BINARY_REPORT.headerBytes} + 8·n bytes, little-endian.`,
        `bytes 0–3: magic "${BINARY_REPORT.magic}"; 4–7: u32 version (${BINARY_REPORT.version});`,
        "8–11: u32 epoch; 12–15: u32 step; 16–19: u32 rank; 20–23: u32 n (>= 1);",
        "then u32 ids[n], then f32 losses[n].",
        "Answers and errors (codes and paths) are those of the JSON body with the same fields.",
      ].join(" "),
    },
  },
};
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
          summary: "Start a run from a recipe, or from a recipe file by name",
          requestBody: {
            required: true,
            content: json(z.union([RecipeSchema, RecipeReferenceSchema])),
          },
          responses: {
            201: { description: "the run" },
            400: error,
            401: error,
            404: error,
            413: error,
          },
        },
      },
      "/v1/runs/{id}": {
        get: { parameters: [runId], responses: { 200: { description: "the run" }, 404: error } },
      },
      "/v1/runs/{id}/cancel": {
        post: { parameters: [runId], responses: { 200: { description: "the run" }, 404: error } },
      },
      "/v1/runs/{id}/events": {
        get: {
          summary:
            "Server-Sent Events: created, epoch_opened, step, progress, evaluation, epoch_closed, status (resume with Last-Event-ID or ?after=)",
          parameters: [runId],
          responses: { 200: { description: "text/event-stream" }, 404: error },
        },
      },
      "/v1/runs/{id}/evaluations": {
        post: {
          summary: "Report a held-out evaluation after an epoch (idempotent on epoch)",
          parameters: [runId],
          requestBody: { required: true, content: json(EvaluationSchema) },
          responses: {
            200: { description: "{applied, duplicate}" },
            400: error,
            404: error,
            409: error,
          },
        },
      },
      "/v1/runs/{id}/report": {
        get: {
          summary: "The report page (standalone HTML: loss curves, kept fraction, savings)",
          parameters: [runId],
          responses: { 200: { description: "text/html" }, 404: error },
        },
      },
      "/v1/runs/{id}/report.json": {
        get: {
          summary: "The report page's data",
          parameters: [runId],
          responses: { 200: { description: "RunReport" }, 404: error },
        },
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
          requestBody: {
            required: true,
            content: { ...json(LossReportSchema), ...binaryReport },
          },
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
