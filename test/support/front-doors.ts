/**
 * The relay's two AWS front doors on loopback, so a real HTTP client (the openai SDK) can go
 * through each: API Gateway (an HTTP API event into `hono/aws-lambda`'s handler, what
 * functions/http-api.ts runs) and the stream function URL (a function URL event into
 * functions/stream-handler.ts, with the runtime's `awslambda` streaming globals played here).
 * Each door gets its own app over its own Deps, as two Lambda functions would have.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { LambdaFunctionURLEvent } from "aws-lambda";
import { handle } from "hono/aws-lambda";
import { streamingHandler } from "#functions/stream-handler.ts";
import type { createApp } from "#shared/http/app.ts";

type App = ReturnType<typeof createApp>;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function eventOf(req: IncomingMessage, body: Buffer, host: string) {
  const url = new URL(req.url ?? "/", `http://${host}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  const method = req.method ?? "GET";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    body: body.length ? body.toString("base64") : undefined,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: "123456789012",
      apiId: "local",
      domainName: host,
      domainPrefix: "local",
      http: {
        method,
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  };
}

const context = (remainingMs: number) => ({
  awsRequestId: randomUUID(),
  getRemainingTimeInMillis: () => remainingMs,
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** API Gateway's HTTP API in front of the buffered handler (replies whole, ~29 s to answer). */
export async function apiGatewayDoor(app: App) {
  const handler = handle(app);
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const event = eventOf(req, body, req.headers.host ?? "localhost") as unknown as Parameters<typeof handler>[0];
    const result = (await handler(event, context(29_000) as never)) as {
      statusCode: number;
      headers?: Record<string, string>;
      body: string;
      isBase64Encoded: boolean;
    };
    res.writeHead(result.statusCode, result.headers);
    res.end(result.isBase64Encoded ? Buffer.from(result.body, "base64") : result.body);
  });
  const url = await listen(server);
  return {
    url,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** The stream function's URL (RESPONSE_STREAM mode): replies streamed, up to ~15 minutes. */
export async function functionUrlDoor(app: App) {
  const runtime = globalThis as Record<string, unknown>;
  runtime.awslambda = {
    streamifyResponse: (fn: unknown) => fn,
    HttpResponseStream: {
      from: (stream: Writable, meta: { statusCode: number; headers: Record<string, string> }) => {
        (stream as Writable & { head?: (meta: unknown) => void }).head?.(meta);
        return stream;
      },
    },
  };
  const handler = streamingHandler(async () => app) as (
    event: LambdaFunctionURLEvent,
    stream: Writable,
    ctx: unknown,
  ) => Promise<void>;
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const event = eventOf(req, body, req.headers.host ?? "localhost") as unknown as LambdaFunctionURLEvent;
    const out = new Writable({
      write(chunk, _encoding, done) {
        if (res.write(chunk)) done();
        else res.once("drain", () => done());
      },
      final(done) {
        res.end();
        done();
      },
    }) as Writable & { head?: (meta: { statusCode: number; headers: Record<string, string> }) => void };
    out.head = (meta) => res.writeHead(meta.statusCode, meta.headers);
    res.once("close", () => out.destroy());
    await handler(event, out, context(14 * 60_000));
  });
  const url = await listen(server);
  return {
    url,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}
