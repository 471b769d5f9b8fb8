import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { BASE_REQUEST, caught, startHarness, type SimHarness } from "./helpers.ts";

/** The /_sim/ endpoints let another process (the benchmark) drive the simulator like tests do in-process. */
describe("simulator: HTTP control endpoints", () => {
  let h: SimHarness;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.sim.origin}/_sim/${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.sim.close());

  it("reads and patches the behaviour, rejecting unknown or invalid fields", async () => {
    expect((await call("GET", "config")).body).toMatchObject({ queuedMs: 1000, runMs: 4000, outcome: "completed" });
    const patched = await call("POST", "config", { queuedMs: 0, outcome: "failed", streamCutAfter: 5 });
    expect(patched).toMatchObject({ status: 200, body: { queuedMs: 0, outcome: "failed", streamCutAfter: 5 } });
    expect(h.sim.behaviour().outcome).toBe("failed");

    expect((await call("POST", "config", { queuedMs: "soon" })).status).toBe(400);
    expect((await call("POST", "config", { nonsense: 1 })).status).toBe(400);
    expect(h.sim.behaviour().queuedMs).toBe(0);
  });

  it('queues and clears faults, with times given as "Infinity"', async () => {
    expect((await call("POST", "faults", { op: "retrieve", status: 503, times: "Infinity" })).status).toBe(201);
    const { id } = await h.client.responses.create(BASE_REQUEST);
    for (let i = 0; i < 3; i++)
      expect(await caught(h.client.responses.retrieve(id))).toBeInstanceOf(OpenAI.InternalServerError);
    expect((await call("DELETE", "faults")).status).toBe(204);
    expect((await h.client.responses.retrieve(id)).id).toBe(id);
    expect((await call("POST", "faults", { op: "create", status: "bad" })).status).toBe(400);
  });

  it("reports and resets stats", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    await h.client.responses.retrieve(id);
    const stats = await call("GET", "stats");
    expect(stats.body).toMatchObject({ requests: 2, ops: { create: 1, retrieve: 1 }, createdIds: [id] });
    expect((await call("DELETE", "stats")).status).toBe(204);
    expect((await call("GET", "stats")).body).toMatchObject({ requests: 0, createdIds: [] });
  });

  it("shows a response without touching the stats, and sets or unsets the webhook", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    expect((await call("GET", `responses/${id}`)).body).toMatchObject({ id, status: "queued" });
    expect((await call("GET", "responses/resp_nope")).status).toBe(404);
    expect(h.sim.stats().requests).toBe(1);

    expect(
      (await call("POST", "webhook", { url: "http://127.0.0.1:9/hook", secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0" }))
        .status,
    ).toBe(200);
    expect((await call("POST", "webhook", { url: "not a url", secret: "x" })).status).toBe(400);
    expect((await call("DELETE", "webhook")).status).toBe(204);
    expect((await call("GET", "nothing-here")).status).toBe(404);
  });
});
