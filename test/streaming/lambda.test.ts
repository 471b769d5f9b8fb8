import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "#shared/http/app.ts";
import type { StreamEvent } from "#shared/ports.ts";
import { SseParser } from "#shared/streaming/sse.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { range, seqs } from "./support.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 900 } });
});
afterAll(() => relay.close());

function parse(text: string) {
  const events: StreamEvent[] = [];
  const comments: string[] = [];
  for (const message of new SseParser().push(text)) {
    if (message.kind === "event") events.push(JSON.parse(message.data));
    else comments.push(message.text);
  }
  return { events, comments };
}

describe("a stream that outlives its Lambda", () => {
  it("ends cleanly after a complete event before the time runs out, and resumes with Last-Event-ID", async () => {
    const app = createApp(relay.deps, { maxBodyBytes: 1_000_000, log: () => {} });
    const job = (await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "lambda" }))
      .body;
    // Hono's streamHandle passes the Lambda context as `context`: 6 s left, minus the 5 s margin.
    const invoke = async (headers: Record<string, string> = {}) => {
      const context = { getRemainingTimeInMillis: () => 6_000 };
      const started = Date.now();
      const res = await app.fetch(
        new Request(`http://relay.test/v1/responses/${job.id}?stream=true`, {
          headers: { authorization: `Bearer ${relay.apiKey}`, ...headers },
        }),
        { context },
      );
      const text = await res.text();
      return { ...parse(text), text, ms: Date.now() - started };
    };

    // The job sits queued (the clock does not move): only created + queued exist yet.
    const first = await invoke();
    expect(first.ms).toBeGreaterThanOrEqual(900);
    expect(first.ms).toBeLessThan(3_000);
    expect(seqs(first.events)).toEqual([0, 1]);
    expect(first.text.endsWith("\n\n")).toBe(true);
    const paused = JSON.parse(first.comments.at(-1)!.slice("relay status ".length));
    expect(paused).toMatchObject({ phase: "paused", label: expect.stringContaining("Last-Event-ID") });

    relay.clock.advance(60_000);
    const second = await invoke({ "last-event-id": "1" });
    expect(second.events[0]!.sequence_number).toBe(2);
    expect(second.events.at(-1)!.type).toBe("response.completed");
    expect(seqs([...first.events, ...second.events])).toEqual(range(0, first.events.length + second.events.length));
  });
});

describe("functions/stream.ts", () => {
  it("serves the API through streamHandle (a function URL in RESPONSE_STREAM mode)", async () => {
    const job = (
      await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "function url" })
    ).body;
    await relay.settle(job.id);

    // What the Lambda Node.js runtime provides to response-streaming handlers, and the function's env.
    const metadata: unknown[] = [];
    (globalThis as Record<string, unknown>).awslambda = {
      streamifyResponse: (fn: unknown) => fn,
      HttpResponseStream: { from: (stream: PassThrough, meta: unknown) => (metadata.push(meta), stream) },
    };
    const env = {
      RELAY_TABLE_NAME: relay.table.tableName,
      DYNAMODB_ENDPOINT: relay.table.endpoint,
      OPENAI_BASE_URL: relay.sim.url,
      OPENAI_API_KEY: "sk-simulator",
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    let handler: (event: unknown, stream: PassThrough, context: unknown) => Promise<void>;
    try {
      ({ handler } = (await import("#functions/stream.ts")) as unknown as { handler: typeof handler });
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on("data", (chunk: Buffer) => chunks.push(chunk));
    const event = {
      version: "2.0",
      routeKey: "$default",
      rawPath: `/v1/responses/${job.id}`,
      rawQueryString: "stream=true&starting_after=2",
      headers: { authorization: `Bearer ${relay.apiKey}`, host: "abc123.lambda-url.us-east-1.on.aws" },
      requestContext: {
        domainName: "abc123.lambda-url.us-east-1.on.aws",
        http: {
          method: "GET",
          path: `/v1/responses/${job.id}`,
          protocol: "HTTP/1.1",
          sourceIp: "203.0.113.9",
          userAgent: "test",
        },
      },
      isBase64Encoded: false,
    };
    try {
      await handler(event, out, { getRemainingTimeInMillis: () => 60_000 });
    } finally {
      delete (globalThis as Record<string, unknown>).awslambda;
    }
    expect(metadata[0]).toMatchObject({
      statusCode: 200,
      headers: { "content-type": "text/event-stream; charset=utf-8" },
    });
    const { events } = parse(Buffer.concat(chunks).toString("utf8"));
    expect(events[0]!.sequence_number).toBe(3);
    expect(events.at(-1)!.type).toBe("response.completed");
    expect(seqs(events)).toEqual(range(3, events.length));
  });
});
