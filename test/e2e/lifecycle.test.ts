import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 2000, runMs: 6000, outputBytes: 800 } });
});
afterAll(() => relay.close());

const submit = (body: Record<string, unknown>, headers?: Record<string, string>) =>
  relay.call("POST", "/v1/responses", { background: true, ...body }, headers);

describe("a job through the relay's HTTP API", () => {
  it("answers 202 at once with Location, Retry-After and a queued Response", async () => {
    const res = await submit({ model: "gpt-5-pro", input: "Explain background mode.", metadata: { ticket: "T-1" } });
    expect(res.status).toBe(202);
    expect(res.headers.get("location")).toBe(`/v1/responses/${res.body.id}`);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.body).toMatchObject({
      object: "response",
      status: "queued",
      model: "gpt-5-pro",
      output: [],
      usage: null,
      error: null,
      metadata: { ticket: "T-1" },
    });
    expect(res.body.id).toMatch(/^resp_/);
    expect(res.body.relay.upstream_id).toMatch(/^resp_/);
    expect(res.body.relay.upstream_id).not.toBe(res.body.id);
    expect(res.body.relay.status_label).toBe("background mode (queued)…");
    // the upstream response is tagged with the job id and forced to background + store
    const upstream = relay.sim.getResponse(res.body.relay.upstream_id) as any;
    expect(upstream).toMatchObject({
      background: true,
      store: true,
      metadata: { ticket: "T-1", relay_job_id: res.body.id },
    });
  });

  it("goes queued -> in_progress -> completed with the upstream's output, usage and cost", async () => {
    const res = await submit({ model: "gpt-5-pro", input: "Write about tides." });
    const id = res.body.id;
    const seen = new Set<string>();
    await relay.runUntil(async () => {
      const s = await relay.call("GET", `/v1/responses/${id}`);
      seen.add(s.body.status);
      return s.body.status === "completed";
    });
    expect([...seen]).toEqual(expect.arrayContaining(["queued", "in_progress", "completed"]));
    const done = (await relay.call("GET", `/v1/responses/${id}`)).body;
    const upstream = relay.sim.getResponse(done.relay.upstream_id) as any;
    expect(done.output).toEqual(upstream.output);
    expect(outputText(done.output)).toBe(upstream.output[0].content[0].text);
    expect(outputText(done.output).length).toBe(800);
    expect(done.usage).toEqual(upstream.usage);
    const expectedCost = (upstream.usage.input_tokens * 15 + upstream.usage.output_tokens * 120) / 1e6;
    expect(done.relay.cost_usd).toBeCloseTo(expectedCost, 6);
    expect(done.completed_at).toBeGreaterThanOrEqual(done.created_at);
    expect(done.relay.status_label).toBe("completed");
  });

  it.each([
    ["failed", { error: expect.objectContaining({ code: "server_error" }) }],
    ["incomplete", { incomplete_details: { reason: "max_output_tokens" } }],
  ])("ends %s when the upstream does", async (outcome, expected) => {
    const res = await submit({ model: "o3-pro", input: `end ${outcome}`, metadata: { sim_outcome: outcome } });
    const done = await relay.settle(res.body.id);
    expect(done.status).toBe(outcome);
    expect(done).toMatchObject(expected);
    expect(done.completed_at).toBeNull();
  });

  it("cancels a running job upstream and locally, keeps partial output, and is idempotent", async () => {
    const res = await submit({ model: "gpt-5-pro", input: "long one", metadata: { sim_run_ms: "600000" } });
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${res.body.id}`)).body.status === "in_progress",
    );
    relay.clock.advance(30_000);
    const cancelled = await relay.call("POST", `/v1/responses/${res.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe("cancelled");
    expect(outputText(cancelled.body.output).length).toBeGreaterThan(0);
    expect((relay.sim.getResponse(res.body.relay.upstream_id) as any).status).toBe("cancelled");
    const again = await relay.call("POST", `/v1/responses/${res.body.id}/cancel`);
    expect(again.body.status).toBe("cancelled");
    expect(outputText(again.body.output)).toBe(outputText(cancelled.body.output));
  });

  it("returns a finished job unchanged on cancel", async () => {
    const res = await submit({ model: "gpt-5-pro", input: "quick" });
    const done = await relay.settle(res.body.id);
    const cancelled = await relay.call("POST", `/v1/responses/${res.body.id}/cancel`);
    expect(cancelled.body.status).toBe("completed");
    expect(outputText(cancelled.body.output)).toBe(outputText(done.output));
  });

  it("expires a job past its deadline and cancels it upstream", async () => {
    const res = await submit({
      model: "gpt-5-pro",
      input: "never ends",
      metadata: { sim_run_ms: String(10 * 3600_000) },
    });
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${res.body.id}`)).body.status === "in_progress",
    );
    const done = await relay.settle(res.body.id, { stepMs: 60_000, maxSteps: 120 });
    // What OpenAI would say of a response stopped this way, with the relay's own reason beside it.
    expect(done.status).toBe("cancelled");
    expect(done.error).toBeNull();
    expect(done.relay.reason.code).toBe("deadline_exceeded");
    expect(done.relay.status_label).toBe("cancelled (deadline passed)");
    expect((relay.sim.getResponse(done.relay.upstream_id) as any).status).toBe("cancelled");
    // terminal states never change
    relay.clock.advance(3600_000);
    await relay.poller.tick();
    expect((await relay.call("GET", `/v1/responses/${res.body.id}`)).body.status).toBe("cancelled");
  });

  it("settles a job stuck in the upstream queue past the model's limit", async () => {
    const res = await submit({ model: "gpt-5-pro", input: "stuck", metadata: { sim_outcome: "stuck_queued" } });
    const done = await relay.settle(res.body.id, { stepMs: 30_000, maxSteps: 200 });
    expect(done.status).toBe("cancelled");
    expect(done.relay.reason.code).toBe("queued_too_long");
    expect((relay.sim.getResponse(done.relay.upstream_id) as any).status).toBe("cancelled");
  });

  it("answers an upstream refusal the way OpenAI would, and leaves no job behind", async () => {
    const before = (await relay.call("GET", "/v1/responses?limit=100")).body.data.length;
    relay.sim.injectFault({ op: "create", status: 400, code: "invalid_value" });
    const res = await submit({ model: "gpt-5-pro", input: "refused" });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_value" });
    const list = await relay.call("GET", "/v1/responses?limit=100");
    expect(list.body.data).toHaveLength(before);
  });

  it("repeats a refused create's answer exactly on an Idempotency-Key replay, creating nothing", async () => {
    relay.sim.injectFault({ op: "create", status: 400, code: "invalid_value" });
    const headers = { "idempotency-key": `refused-${Math.random()}` };
    const first = await submit({ model: "gpt-5-pro", input: "refused twice" }, headers);
    const creates = relay.sim.stats().ops.create;
    const again = await submit({ model: "gpt-5-pro", input: "refused twice" }, headers);
    expect(first.status).toBe(400);
    expect(again.status).toBe(first.status);
    expect(again.body).toEqual(first.body);
    expect(relay.sim.stats().ops.create).toBe(creates);
  });

  it("refused for the relay's own upstream key: one clear 502 per attempt, no job left per attempt", async () => {
    const before = (await relay.call("GET", "/v1/responses?limit=100")).body.data.length;
    for (let i = 0; i < 3; i++) relay.sim.injectFault({ op: "create", status: 401, code: "invalid_api_key" });
    for (let i = 0; i < 3; i++) {
      const res = await submit(
        { model: "gpt-5-pro", input: "bad upstream key" },
        { "x-stainless-retry-count": String(i) },
      );
      expect(res.status).toBe(502);
      expect(JSON.stringify(res.body)).not.toMatch(/sk-/);
    }
    expect((await relay.call("GET", "/v1/responses?limit=100")).body.data).toHaveLength(before);
  });
});
