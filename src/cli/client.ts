/** A small client of the control plane for the CLI: JSON calls with the bearer token, SSE follow. */
import { createParser, type EventSourceMessage } from "eventsource-parser";

export class ControlPlaneError extends Error {
  override readonly name = "ControlPlaneError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: ReadonlyArray<string | number> = [],
  ) {
    super(message);
  }
}

export interface FollowedEvent {
  id: string | undefined;
  type: string;
  data: Record<string, unknown>;
}

export class ControlPlaneClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token === undefined || this.token === ""
      ? extra
      : { authorization: `Bearer ${this.token}`, ...extra };
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new ControlPlaneError(
        0,
        "unreachable",
        `cannot reach the control plane at ${this.url}: ${(error as Error).cause ?? (error as Error).message}`,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let error: { code?: string; message?: string; path?: Array<string | number> } = {};
      try {
        error = (JSON.parse(text) as { error: typeof error }).error ?? {};
      } catch {}
      throw new ControlPlaneError(
        response.status,
        error.code ?? "http_error",
        error.message ?? `${method} ${path} answered ${response.status}`,
        error.path ?? [],
      );
    }
    return (response.headers.get("content-type") ?? "").includes("json")
      ? (JSON.parse(text) as T)
      : (text as T);
  }

  /**
   * Follows a run's events until the server ends the stream (the run finished) or `signal`
   * aborts; reconnects with Last-Event-ID when the connection drops.
   */
  async follow(
    runId: string,
    onEvent: (event: FollowedEvent) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let lastId: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(`${this.url}/v1/runs/${runId}/events`, {
          headers: this.headers(lastId === undefined ? {} : { "last-event-id": lastId }),
          signal,
        });
        if (!response.ok || response.body === null) {
          throw new ControlPlaneError(response.status, "follow_failed", await response.text());
        }
        const parser = createParser({
          onEvent: (message: EventSourceMessage) => {
            if (message.id !== undefined) lastId = message.id;
            onEvent({
              id: message.id,
              type: message.event ?? "message",
              data: JSON.parse(message.data) as Record<string, unknown>,
            });
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of response.body)
          parser.feed(decoder.decode(chunk, { stream: true }));
        return;
      } catch (error) {
        if (signal?.aborted || error instanceof ControlPlaneError || attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
      }
    }
  }
}
