import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startSimulator } from "#local/simulator/index.ts";
import { BASE_REQUEST, startHarness, type SimHarness } from "./helpers.ts";

describe("simulator: background lifecycle", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 1000, runMs: 4000, outputBytes: 600 } });
  });
  afterEach(() => h.sim.close());

  it("creates a queued background response with the fields the real API returns", async () => {
    const created = await h.client.responses.create({
      ...BASE_REQUEST,
      instructions: "Be brief.",
      metadata: { job: "42" },
      max_output_tokens: 2000,
    });
    expect(created.id).toMatch(/^resp_[0-9a-f]+$/);
    expect(created).toMatchObject({
      object: "response",
      status: "queued",
      background: true,
      store: true,
      completed_at: null,
      error: null,
      incomplete_details: null,
      output: [],
      usage: null,
      metadata: { job: "42" },
      model: "gpt-5-pro",
      instructions: "Be brief.",
      tools: [],
      parallel_tool_calls: true,
      tool_choice: "auto",
      max_output_tokens: 2000,
      previous_response_id: null,
      truncation: "disabled",
    });
    expect(created.created_at).toBe(Math.floor(h.clock.now() / 1000));
    for (const field of ["temperature", "top_p", "reasoning", "text", "service_tier"])
      expect(created).toHaveProperty(field);
  });

  it("moves queued -> in_progress -> completed as the clock advances, with usage only at the end", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);

    h.clock.advance(999);
    expect((await h.client.responses.retrieve(id)).status).toBe("queued");

    h.clock.advance(1);
    const starting = await h.client.responses.retrieve(id);
    expect(starting.status).toBe("in_progress");
    expect(starting.usage).toBeNull();

    h.clock.advance(1000);
    const early = await h.client.responses.retrieve(id);
    h.clock.advance(2000);
    const later = await h.client.responses.retrieve(id);
    expect(later.status).toBe("in_progress");
    // Partial output grows with elapsed time and is always a prefix of the final text.
    expect(later.output_text.length).toBeGreaterThan(early.output_text.length);
    expect(later.output_text.startsWith(early.output_text)).toBe(true);

    h.clock.advance(1000);
    const done = await h.client.responses.retrieve(id);
    expect(done.status).toBe("completed");
    expect(done.completed_at).toBe(Math.floor(h.clock.now() / 1000));
    expect(Buffer.byteLength(done.output_text)).toBe(600);
    expect(done.output_text.startsWith(later.output_text)).toBe(true);
    expect(done.output[0]).toMatchObject({ type: "message", role: "assistant", status: "completed" });
    expect(done.output[0]).toHaveProperty("id", expect.stringMatching(/^msg_/));
    expect(done.usage).toMatchObject({
      input_tokens: expect.any(Number),
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: expect.any(Number),
      output_tokens_details: { reasoning_tokens: expect.any(Number) },
    });
    const u = done.usage!;
    expect(u.total_tokens).toBe(u.input_tokens + u.output_tokens);
    expect(u.output_tokens).toBeGreaterThanOrEqual(150);
  });

  it("is deterministic: the same request gives the same text and usage, also on a fresh simulator", async () => {
    const a = await h.client.responses.create(BASE_REQUEST);
    const b = await h.client.responses.create(BASE_REQUEST);
    const c = await h.client.responses.create({ ...BASE_REQUEST, input: "Something else entirely." });
    h.clock.advance(5000);
    const [ra, rb, rc] = await Promise.all([a, b, c].map((r) => h.client.responses.retrieve(r.id)));
    if (!ra || !rb || !rc) throw new Error("three retrieves should give three responses");
    expect(ra.id).not.toBe(rb.id);
    expect(ra.output_text).toBe(rb.output_text);
    expect(ra.usage).toEqual(rb.usage);
    expect(rc.output_text).not.toBe(ra.output_text);

    const other = await startHarness({ behaviour: { queuedMs: 0, runMs: 1, outputBytes: 600 } });
    try {
      const d = await other.client.responses.create(BASE_REQUEST);
      other.clock.advance(1);
      expect((await other.client.responses.retrieve(d.id)).output_text).toBe(ra.output_text);
    } finally {
      await other.sim.close();
    }
  });

  it("takes per-request behaviour from sim_* metadata and echoes that metadata", async () => {
    const metadata = { sim_queued_ms: "0", sim_run_ms: "10", sim_output_bytes: "77", sim_cached_tokens: "5" };
    const created = await h.client.responses.create({ ...BASE_REQUEST, metadata });
    expect(created.status).toBe("in_progress");
    expect(created.metadata).toEqual(metadata);
    h.clock.advance(10);
    const done = await h.client.responses.retrieve(created.id);
    expect(done.status).toBe("completed");
    expect(done.output_text).toHaveLength(77);
    expect(done.usage?.input_tokens_details.cached_tokens).toBe(5);
  });

  it("ends failed with a server_error and no output", async () => {
    const { id } = await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_outcome: "failed" } });
    h.clock.advance(5000);
    const r = await h.client.responses.retrieve(id);
    expect(r.status).toBe("failed");
    expect(r.error).toEqual({ code: "server_error", message: expect.any(String) });
    expect(r.output).toEqual([]);
    expect(r.completed_at).toBeNull();
  });

  it("ends incomplete with max_output_tokens and the partial text", async () => {
    const { id } = await h.client.responses.create({ ...BASE_REQUEST, metadata: { sim_outcome: "incomplete" } });
    h.clock.advance(5000);
    const r = await h.client.responses.retrieve(id);
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(r.output[0]).toMatchObject({ type: "message", status: "incomplete" });
    expect(r.output_text).toHaveLength(300);
    expect(r.usage).not.toBeNull();
  });

  it("keeps a stuck_queued job queued for hours", async () => {
    h.sim.configure({ outcome: "stuck_queued" });
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(3 * 3600_000);
    const r = await h.client.responses.retrieve(id);
    expect(r.status).toBe("queued");
    expect(r.output).toEqual([]);
  });

  it("applies configure() to jobs created afterwards only", async () => {
    const before = await h.client.responses.create(BASE_REQUEST);
    h.sim.configure({ queuedMs: 0, runMs: 100 });
    const after = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(100);
    expect((await h.client.responses.retrieve(before.id)).status).toBe("queued");
    expect((await h.client.responses.retrieve(after.id)).status).toBe("completed");
    expect(h.sim.behaviour()).toMatchObject({ queuedMs: 0, runMs: 100 });
    expect(() => h.sim.configure({ queuedMs: -1 })).toThrow(/queuedMs/);
    h.sim.configure({ queuedMs: undefined });
    expect(h.sim.behaviour().queuedMs).toBe(0);
  });

  it("runs non-background responses without a queue phase", async () => {
    const created = await h.client.responses.create({ model: "gpt-5-pro", input: "sync" });
    expect(created).toMatchObject({ background: false, status: "in_progress" });
    h.clock.advance(4000);
    expect((await h.client.responses.retrieve(created.id)).status).toBe("completed");
  });

  it("getResponse() returns what a GET returns", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(2500);
    const viaHttp = await h.client.responses.retrieve(id);
    const { output_text: _sdkOnly, ...wire } = viaHttp;
    expect(h.sim.getResponse(id)).toEqual(wire);
    expect(h.sim.getResponse("resp_unknown")).toBeUndefined();
  });

  it("accepts background with store:false when told to, and forgets it ~10 minutes after it ends", async () => {
    h.sim.configure({ rejectBackgroundWithoutStore: false, queuedMs: 0, runMs: 1000 });
    const created = await h.client.responses.create({ ...BASE_REQUEST, store: false });
    expect(created).toHaveProperty("store", false);
    const { id } = created;
    h.clock.advance(1000 + 10 * 60_000);
    expect((await h.client.responses.retrieve(id)).status).toBe("completed");
    h.clock.advance(1);
    await expect(h.client.responses.retrieve(id)).rejects.toMatchObject({ status: 404 });
  });

  it("listens on the requested port", async () => {
    const probe = await startSimulator();
    const port = Number(new URL(probe.origin).port);
    await probe.close();
    const sim = await startSimulator({ port });
    try {
      expect(sim.origin).toBe(`http://127.0.0.1:${port}`);
      expect(sim.url).toBe(`http://127.0.0.1:${port}/v1`);
    } finally {
      await sim.close();
    }
  });
});
