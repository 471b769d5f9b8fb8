import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * The Lambda Runtime API (2018-06-01) on 127.0.0.1, as far as aws-lambda-ric uses it: `next`,
 * buffered and streamed `response`, invocation `error`, `init/error`. AWS's own emulator (RIE) is
 * a Go binary with no npm package, so this hand-written peer stands in for the Lambda service;
 * the runtime client, the Node runtime and the bundles on the other side are the real ones.
 */
/**
 * Lambda's limit on a buffered (RequestResponse) reply: bigger, and the service answers the caller
 * with an error instead (API Gateway turns it into a 502), whatever the function returned.
 */
export const MAX_BUFFERED_RESPONSE_BYTES = 6_291_556;

export interface InvocationResult {
  requestId: string;
  /** Buffered reply (JSON) or a streamed one (raw bytes, HTTP prelude included). */
  body: Buffer;
  streaming: boolean;
  error?: { errorType: string; errorMessage: string };
}

interface Pending {
  requestId: string;
  event: unknown;
  deadlineMs: number;
  done: (result: InvocationResult) => void;
  onChunk?: (chunk: Buffer, request: IncomingMessage) => void;
}

export class RuntimeApi {
  readonly #server: Server;
  readonly #queue: Pending[] = [];
  readonly #inFlight = new Map<string, Pending>();
  #waiting: ServerResponse | null = null;
  initError: { errorType: string; errorMessage: string } | null = null;
  /** Whether invocations carry a sampled X-Ray trace header (Lambda's active tracing decides). */
  sampled = false;
  /** The trace header of each invocation handed out, in order (Root, Parent segment id, Sampled). */
  readonly traceHeaders: string[] = [];
  readonly #initErrorSeen: Promise<void>;
  #resolveInitError!: () => void;

  private constructor(server: Server) {
    this.#server = server;
    this.#initErrorSeen = new Promise((resolve) => (this.#resolveInitError = resolve));
    server.on("request", (req, res) => void this.#handle(req, res));
  }

  static async start(): Promise<RuntimeApi> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return new RuntimeApi(server);
  }

  get address(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Queues one invocation; resolves when the runtime has answered it. */
  invoke(
    event: unknown,
    options: { timeoutMs: number; onChunk?: Pending["onChunk"] } = { timeoutMs: 30_000 },
  ): Promise<InvocationResult> {
    return new Promise((done) => {
      this.#queue.push({
        requestId: randomUUID(),
        event,
        deadlineMs: Date.now() + options.timeoutMs,
        done,
        onChunk: options.onChunk,
      });
      this.#dispatch();
    });
  }

  waitForInitError(): Promise<void> {
    return this.#initErrorSeen;
  }

  async close(): Promise<void> {
    this.#waiting?.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #dispatch(): void {
    if (!this.#waiting || this.#queue.length === 0) return;
    const next = this.#queue.shift()!;
    const res = this.#waiting;
    this.#waiting = null;
    this.#inFlight.set(next.requestId, next);
    // As Lambda's active tracing writes it: the trace, the segment it opened for this invocation, the decision.
    const trace = `Root=1-${Date.now().toString(16)}-${randomUUID().replaceAll("-", "").slice(0, 24)};Parent=${randomUUID().replaceAll("-", "").slice(0, 16)};Sampled=${this.sampled ? 1 : 0}`;
    this.traceHeaders.push(trace);
    res.writeHead(200, {
      "content-type": "application/json",
      "lambda-runtime-aws-request-id": next.requestId,
      "lambda-runtime-deadline-ms": String(next.deadlineMs),
      "lambda-runtime-invoked-function-arn": "arn:aws:lambda:us-east-1:123456789012:function:relay-test",
      "lambda-runtime-trace-id": trace,
    });
    res.end(JSON.stringify(next.event));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    if (req.method === "GET" && path === "/2018-06-01/runtime/invocation/next") {
      this.#waiting = res;
      this.#dispatch();
      return;
    }
    const chunks: Buffer[] = [];
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(path);
    const pending = match ? this.#inFlight.get(decodeURIComponent(match[1]!)) : undefined;
    req.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      pending?.onChunk?.(chunk, req);
    });
    // "close" without "end" when the test cut the stream (the client went away).
    await new Promise<void>((resolve) => {
      req.once("end", resolve);
      req.once("close", resolve);
      req.once("error", () => resolve());
    });
    const body = Buffer.concat(chunks);
    if (path === "/2018-06-01/runtime/init/error") {
      this.initError = JSON.parse(body.toString("utf8"));
      res.writeHead(202).end();
      this.#resolveInitError();
      return;
    }
    if (!match || !pending) {
      res.writeHead(404).end();
      return;
    }
    this.#inFlight.delete(pending.requestId);
    const streaming = req.headers["lambda-runtime-function-response-mode"] === "streaming";
    if (match[2] === "response" && !streaming && body.length > MAX_BUFFERED_RESPONSE_BYTES) {
      // What Lambda does with an oversized reply: the runtime is told 413, the caller gets an error.
      if (!res.destroyed) res.writeHead(413).end(JSON.stringify({ errorType: "RequestEntityTooLarge" }));
      pending.done({
        requestId: pending.requestId,
        body,
        streaming,
        error: {
          errorType: "Function.ResponseSizeTooLarge",
          errorMessage: `Response payload size (${body.length} bytes) exceeded maximum allowed payload size (${MAX_BUFFERED_RESPONSE_BYTES} bytes).`,
        },
      });
      return;
    }
    if (!res.destroyed) res.writeHead(202).end("{}");
    pending.done({
      requestId: pending.requestId,
      body,
      streaming,
      error: match[2] === "error" ? JSON.parse(body.toString("utf8")) : undefined,
    });
  }
}

/** Splits a streamed function URL reply into its prelude (status, headers) and body. */
export function splitStreamedReply(body: Buffer): {
  prelude: { statusCode: number; headers: Record<string, string> };
  text: string;
} {
  const separator = body.indexOf(Buffer.alloc(8));
  if (separator < 0) throw new Error(`no prelude separator in ${body.toString("utf8").slice(0, 200)}`);
  return {
    prelude: JSON.parse(body.subarray(0, separator).toString("utf8")),
    text: body.subarray(separator + 8).toString("utf8"),
  };
}
