/**
 * Background mode the relay provides itself, for an upstream that has none: a Chat Completions
 * server (the simulator's `chat` flavour) that streams slowly on the injected clock. Everything a
 * caller sees must be what an OpenAI job gives: status, a resumable stream, the webhook, usage and
 * cost, read by the official SDK.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

const TEN_MINUTES = 600_000;

function chatRelay(emulation: Record<string, unknown> = {}) {
  return startRelay({
    env: { SIM_KEY: "sk-simulator" },
    upstreams: {
      sims: { local: { flavour: "chat", behaviour: { runMs: TEN_MINUTES, outputBytes: 3000 } } },
      config: (urls) => ({
        upstreams: {
          openai: { baseUrl: urls.main, background: true, key: { env: "SIM_KEY" } },
          local: { baseUrl: urls.local, api: "chat_completions", background: false, key: { header: "none" } },
        },
        models: [
          { prefix: "qwen", upstream: "local", inputPerM: 0.5, outputPerM: 2, deadlineSeconds: 3600 },
          { model: "qwen-hurried", upstream: "local", inputPerM: 0.5, outputPerM: 2, deadlineSeconds: 60 },
        ],
        defaultUpstream: "openai",
        emulation,
      }),
    },
  });
}

/** Reads a job's stream with the official SDK until it ends, while the test moves time. */
function follow(client: OpenAI, id: string) {
  const events: any[] = [];
  const done = (async () => {
    const stream = await client.responses.retrieve(id, { stream: true });
    for await (const event of stream) events.push(event);
  })();
  return { events, done };
}

function expectOneCleanSequence(events: any[]) {
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  expect(events.filter((e) => e.type === "response.created")).toHaveLength(1);
  expect(events.filter((e) => e.type === "response.output_item.added")).toHaveLength(1);
  expect(events.at(-1)?.type).toBe("response.completed");
  const streamed = events
    .filter((e) => e.type === "response.output_text.delta")
    .map((e) => e.delta)
    .join("");
  expect(streamed).toBe(outputText(events.at(-1).response.output));
}

// Minutes of injected time in real seconds; a loaded 2-core machine needs headroom.
describe("a job on a chat-only upstream, run by the relay's own worker", { timeout: 180_000 }, () => {
  let relay: RelayHarness;
  let receiver: Receiver;
  let client: OpenAI;
  beforeAll(async () => {
    relay = await chatRelay();
    receiver = await startReceiver(relay.tenant.webhookSecrets[0]!);
    client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    await relay.close();
    await receiver.close();
  });

  it("streams for 10 minutes and completes with the status, stream, webhook, usage and cost of an OpenAI job", async () => {
    const submitted = await relay.call("POST", "/v1/responses", {
      model: "qwen3-coder",
      input: "Refactor the parser.",
      instructions: "Be brief.",
      background: true,
      webhook: { url: receiver.url },
    });
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ status: "queued", model: "qwen3-coder", background: true });
    const id = submitted.body.id;
    const reader = follow(client, id);
    const statuses = new Set<string>();
    await relay.runUntil(
      async () => {
        const status = (await relay.call("GET", `/v1/responses/${id}`)).body.status;
        statuses.add(status);
        return status === "completed" && receiver.accepted().length > 0;
      },
      { stepMs: 5_000, maxSteps: 400 },
    );
    await reader.done;

    const response = await client.responses.retrieve(id);
    expect(response.status).toBe("completed");
    expect([...statuses]).toContain("in_progress");
    expect(response.output_text).toHaveLength(3000);
    const chat = relay.sims.local!.stats();
    expect(chat.ops.chat).toBe(1);
    // Chat usage in the Responses API's names, priced as the upstreams file says.
    const usage = response.usage!;
    expect(usage.output_tokens).toBe(750);
    expect(usage.input_tokens).toBeGreaterThan(8);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    const raw = (await relay.call("GET", `/v1/responses/${id}`)).body;
    // The relay rounds to micro-dollars.
    expect(raw.relay.cost_usd).toBeCloseTo((usage.input_tokens * 0.5 + usage.output_tokens * 2) / 1e6, 5);
    expect(raw.relay.upstream_id).toBe(`local:${id}`);
    expect(raw.instructions).toBe("Be brief.");

    expectOneCleanSequence(reader.events);
    expect(outputText(reader.events.at(-1).response.output)).toBe(response.output_text);

    const [hook] = receiver.accepted();
    const event = await client.webhooks.unwrap(hook!.body, hook!.headers as any, relay.tenant.webhookSecrets[0]!);
    expect(event.type).toBe("response.completed");
    expect((event.data as any).id).toBe(id);
  });

  it("re-runs a job whose worker was killed mid-way; a follower sees one clean sequence ending in response.completed", async () => {
    const submitted = await relay.call("POST", "/v1/responses", {
      model: "qwen3-coder",
      input: "Write the migration.",
      background: true,
    });
    const id = submitted.body.id;
    const reader = follow(client, id);
    await relay.runUntil(() => reader.events.some((e) => e.type === "response.output_text.delta"), {
      stepMs: 5_000,
      maxSteps: 200,
    });
    // Not a mock: the in-process pool stops the worker dead, as a killed process stops (no lease
    // release, buffered events lost, the upstream connection dropped). What follows is the relay's
    // own recovery: the lease expires, the poller starts another worker, which runs it again.
    await relay.workers!.crash(id);
    await relay.settle(id, { stepMs: 5_000, maxSteps: 400 });
    await reader.done;

    const response = await client.responses.retrieve(id);
    expect(response.status).toBe("completed");
    expect(response.output_text).toHaveLength(3000);
    expect(relay.sims.local!.stats().ops.chat).toBe(3); // one run for the first test, two for this one
    expectOneCleanSequence(reader.events);
    // A reader who comes later replays the very same sequence from the log.
    const replay = follow(client, id);
    await replay.done;
    expect(replay.events).toEqual(reader.events);
  });
});

// Minutes of injected time in real seconds; a loaded 2-core machine needs headroom.
describe("the ends of an emulated job", { timeout: 180_000 }, () => {
  let relay: RelayHarness;
  let client: OpenAI;
  beforeAll(async () => {
    relay = await chatRelay();
    client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
  });
  afterAll(() => relay.close());

  const submit = (body: Record<string, unknown>) =>
    relay.call("POST", "/v1/responses", { model: "qwen3-coder", input: "Go.", background: true, ...body });

  it("maps finish_reason length to incomplete with max_output_tokens", async () => {
    const { body } = await submit({ max_output_tokens: 100 });
    const done = await relay.settle(body.id, { stepMs: 5_000, maxSteps: 400 });
    expect(done.status).toBe("incomplete");
    expect(done.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(done.output[0].content[0].text).toHaveLength(400);
    expect(done.usage.output_tokens).toBe(100);
  });

  it("cancels: the upstream request is aborted, the partial output kept, the stream ends cancelled", async () => {
    const { body } = await submit({ input: "Cancel me." });
    const reader = follow(client, body.id);
    await relay.runUntil(() => reader.events.some((e) => e.type === "response.output_text.delta"), {
      stepMs: 5_000,
      maxSteps: 200,
    });
    const cancelled = await client.responses.cancel(body.id);
    expect(cancelled.status).toBe("cancelled");
    // The worker lets go of the upstream request within a few clock seconds, long before the
    // 10-minute run would have ended on its own: the cancel aborted it.
    await relay.runUntil(() => !relay.workers!.running().includes(body.id), { maxSteps: 50 });
    await relay.runUntil(async () => reader.events.at(-1)?.type === "response.failed", { maxSteps: 50 });
    await reader.done;
    expect(reader.events.at(-1).response.status).toBe("cancelled");
    const status = await client.responses.retrieve(body.id);
    expect(status.status).toBe("cancelled");
    expect(status.output_text.length).toBeGreaterThan(0);
    expect(status.output_text.length).toBeLessThan(3000);
  });

  it("ends a job past its deadline as cancelled with deadline_exceeded", async () => {
    const { body } = await submit({ model: "qwen-hurried" });
    const done = await relay.settle(body.id, { stepMs: 5_000, maxSteps: 100 });
    expect(done.status).toBe("cancelled");
    expect(done.relay.reason.code).toBe("deadline_exceeded");
  });

  it("fails a job the upstream refuses, with its words, as an OpenAI job would", async () => {
    relay.sims.local!.injectFault({ op: "chat", status: 404, code: "model_not_found" });
    const { body } = await submit({});
    const done = await relay.settle(body.id, { stepMs: 5_000, maxSteps: 50 });
    expect(done.status).toBe("failed");
    expect(done.error.code).toBe("server_error");
    expect(done.relay.reason.code).toBe("upstream_rejected");
  });

  it("waits out an upstream that is down, then runs the job", async () => {
    relay.sims.local!.injectFault({ op: "chat", status: 503, times: 3 });
    const { body } = await submit({});
    const noted = await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${body.id}`)).body.relay.last_upstream_error !== null,
      { stepMs: 1_000, maxSteps: 50 },
    );
    expect(noted).toBeGreaterThanOrEqual(0);
    const done = await relay.settle(body.id, { stepMs: 5_000, maxSteps: 400 });
    expect(done.status).toBe("completed");
    expect(done.relay.last_upstream_error).toBeNull();
  });

  it("re-runs a job whose upstream stream broke off mid-way", async () => {
    relay.sims.local!.configure({ streamCutAfter: 40 });
    const { body } = await submit({ input: "A connection that drops." });
    const reader = follow(client, body.id);
    await relay.runUntil(() => reader.events.some((e) => e.type === "response.output_text.delta"), {
      stepMs: 5_000,
      maxSteps: 200,
    });
    relay.sims.local!.configure({ streamCutAfter: null });
    await relay.settle(body.id, { stepMs: 5_000, maxSteps: 400 });
    await reader.done;
    expectOneCleanSequence(reader.events);
  });
});

// Minutes of injected time in real seconds; a loaded 2-core machine needs headroom.
describe("with reruns switched off", { timeout: 180_000 }, () => {
  let relay: RelayHarness;
  beforeAll(async () => {
    relay = await chatRelay({ onWorkerLost: "fail" });
  });
  afterAll(() => relay.close());

  it("fails a job whose worker died, with the relay's reason, and ends its stream", async () => {
    const { body } = await relay.call("POST", "/v1/responses", {
      model: "qwen3-coder",
      input: "Once only.",
      background: true,
    });
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${body.id}`)).body.status === "in_progress",
      { stepMs: 5_000, maxSteps: 100 },
    );
    // As above: the pool stops the worker dead, the relay's recovery is what is tested.
    await relay.workers!.crash(body.id);
    const done = await relay.settle(body.id, { stepMs: 5_000, maxSteps: 100 });
    expect(done.status).toBe("failed");
    expect(done.relay.reason.code).toBe("worker_lost");
    expect(relay.sims.local!.stats().ops.chat).toBe(1);
    const stream = await relay.call("GET", `/v1/responses/${body.id}?stream=true`);
    expect(stream.body).toContain("event: response.failed");
  });
});
