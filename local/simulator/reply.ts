/**
 * Writing replies with the headers every OpenAI reply carries (x-request-id, openai-processing-ms, …),
 * errors included, since clients log the request id and SDKs expose it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomId } from "./random.ts";

export class Exchange {
  readonly requestId = randomId("req_", 16);
  readonly startedAt = performance.now();
  status = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly azure: boolean,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const base: Record<string, string> = {
      "x-request-id": this.requestId,
      "openai-processing-ms": String(Math.round(performance.now() - this.startedAt)),
      "openai-version": "2020-10-01",
    };
    if (this.azure) {
      // Azure reports rate-limit headers as -1 on the Responses API and has its own request id header.
      base["apim-request-id"] = this.requestId.slice(4);
      base["x-ratelimit-remaining-requests"] = "-1";
      base["x-ratelimit-remaining-tokens"] = "-1";
    } else {
      Object.assign(base, {
        "openai-organization": "org-simulator",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-limit-tokens": "30000000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-remaining-tokens": "29999000",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "2ms",
      });
    }
    return { ...base, ...extra };
  }

  json(status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const payload = JSON.stringify(body);
    this.status = status;
    this.res.writeHead(status, {
      ...this.headers(extraHeaders),
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(payload)),
    });
    this.res.end(payload);
  }

  /** Starts an SSE body; headers go out at once so the client's request resolves before any event. */
  startEventStream(): void {
    this.status = 200;
    this.res.writeHead(200, {
      ...this.headers(),
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    this.res.flushHeaders();
  }

  /** A network error as the client sees it: no status line at all. */
  drop(): void {
    this.status = -1;
    this.req.socket.destroy();
  }

  elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }
}

/** Reads the whole body (capped), so a later socket cut never loses unread request bytes. */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
