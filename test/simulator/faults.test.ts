import { afterEach, beforeEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { BASE_REQUEST, jsonOf, caught, startHarness, type SimHarness } from "./helpers.ts";

type ApiError = InstanceType<typeof OpenAI.APIError>;

describe("simulator: injected faults", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.sim.close());

  it("answers 429 rate_limit_exceeded with Retry-After, once", async () => {
    h.sim.injectFault({ op: "create", status: 429, retryAfterSeconds: 3 });
    const err = await caught(h.client.responses.create(BASE_REQUEST));
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const e = err as ApiError;
    expect(e.headers?.get("retry-after")).toBe("3");
    expect(e.headers?.get("x-request-id")).toMatch(/^req_/);
    expect(e.code).toBe("rate_limit_exceeded");
    expect(e.message).toMatch(/^429 Rate limit reached/);
    expect(h.sim.stats().createdIds).toEqual([]);

    expect((await h.client.responses.create(BASE_REQUEST)).status).toBe("queued");
    expect(h.sim.stats().faultsApplied).toBe(1);
  });

  it("lets the SDK's own retry honour Retry-After", async () => {
    h.sim.injectFault({ op: "create", status: 429, retryAfterSeconds: 1 });
    const retrying = new OpenAI({ baseURL: h.sim.url, apiKey: "sk-test", maxRetries: 1 });
    const started = Date.now();
    expect((await retrying.responses.create(BASE_REQUEST)).status).toBe("queued");
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(h.sim.stats().ops.create).toBe(2);
  });

  it("answers 429 insufficient_quota without Retry-After", async () => {
    h.sim.injectFault({ status: 429, code: "insufficient_quota" });
    const res = await fetch(`${h.sim.url}/responses/resp_any`);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBeNull();
    expect((await jsonOf(res)).error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
  });

  it("answers 500 and 503 with server_error bodies, only for the targeted operation", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.sim.injectFault({ op: "retrieve", status: 500 });
    h.sim.injectFault({ op: "retrieve", status: 503, code: "server_is_overloaded" });

    expect((await h.client.responses.cancel(id)).status).toBe("cancelled"); // other ops unaffected
    const first = await caught(h.client.responses.retrieve(id));
    expect(first).toBeInstanceOf(OpenAI.InternalServerError);
    expect((first as ApiError).status).toBe(500);
    expect((first as ApiError).type).toBe("server_error");
    const second = await caught(h.client.responses.retrieve(id));
    expect((second as ApiError).status).toBe(503);
    expect((second as ApiError).code).toBe("server_is_overloaded");
    expect((await h.client.responses.retrieve(id)).status).toBe("cancelled");
  });

  it("words 4xx faults the way the real API does", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.sim.injectFault({ op: "retrieve", status: 404 });
    h.sim.injectFault({ op: "cancel", status: 401 });
    const notFound = await caught(h.client.responses.retrieve(id));
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect((notFound as Error).message).toBe(`404 Response with id '${id}' not found.`);
    const denied = await caught(h.client.responses.cancel(id));
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((denied as ApiError).code).toBe("invalid_api_key");
  });

  it("slows a reply by delayMs and then answers normally", async () => {
    h.sim.injectFault({ op: "create", delayMs: 150 });
    const started = Date.now();
    const r = await h.client.responses.create(BASE_REQUEST);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.status).toBe("queued");
    await h.client.responses.retrieve(r.id);
    expect(h.sim.stats().faultsApplied).toBe(1); // the next request was not slowed
  });

  it("adds latencyMs to every reply", async () => {
    h.sim.configure({ latencyMs: 80 });
    const started = Date.now();
    await h.client.responses.create(BASE_REQUEST);
    await h.client.responses.create(BASE_REQUEST);
    expect(Date.now() - started).toBeGreaterThanOrEqual(155);
  });

  it("drops the connection without a reply: the SDK throws APIConnectionError", async () => {
    h.sim.injectFault({ op: "create", dropConnection: true });
    const err = await caught(h.client.responses.create(BASE_REQUEST));
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(h.sim.stats().createdIds).toEqual([]);
  });

  it("can lose the reply after the job was created (the double-create hazard)", async () => {
    h.sim.injectFault({ op: "create", dropConnection: true, afterHandling: true });
    const err = await caught(h.client.responses.create(BASE_REQUEST));
    expect(err).toBeInstanceOf(OpenAI.APIConnectionError);
    const [ghost] = h.sim.stats().createdIds;
    if (!ghost) throw new Error("the dropped create should still have created a job");
    expect(h.sim.getResponse(ghost)).toMatchObject({ status: "queued" });

    h.sim.injectFault({ op: "cancel", status: 502, afterHandling: true });
    expect(await caught(h.client.responses.cancel(ghost))).toBeInstanceOf(OpenAI.InternalServerError);
    expect(h.sim.getResponse(ghost)).toMatchObject({ status: "cancelled" });
  });

  it("repeats a fault `times` times (Infinity too) and clearFaults() removes it", async () => {
    h.sim.injectFault({ op: "retrieve", status: 500, times: 2 });
    const { id } = await h.client.responses.create(BASE_REQUEST);
    await caught(h.client.responses.retrieve(id));
    await caught(h.client.responses.retrieve(id));
    expect((await h.client.responses.retrieve(id)).id).toBe(id);

    h.sim.injectFault({ op: "any", status: 503, times: Infinity });
    for (let i = 0; i < 5; i++)
      expect(await caught(h.client.responses.retrieve(id))).toBeInstanceOf(OpenAI.InternalServerError);
    h.sim.clearFaults();
    expect((await h.client.responses.retrieve(id)).id).toBe(id);
  });

  it("hits a seeded fraction of requests with `probability`, the same ones on every run", async () => {
    const pattern = async (seed: number) => {
      const other = await startHarness({ seed });
      try {
        other.sim.injectFault({ op: "retrieve", status: 500, probability: 0.5, times: Infinity });
        const { id } = await other.client.responses.create(BASE_REQUEST);
        const hits: boolean[] = [];
        for (let i = 0; i < 30; i++) {
          hits.push(
            await other.client.responses.retrieve(id).then(
              () => false,
              () => true,
            ),
          );
        }
        return hits;
      } finally {
        await other.sim.close();
      }
    };
    const a = await pattern(7);
    const b = await pattern(7);
    expect(a).toEqual(b);
    const hitCount = a.filter(Boolean).length;
    expect(hitCount).toBeGreaterThan(5);
    expect(hitCount).toBeLessThan(25);
  });

  it("rejects a fault that does nothing", () => {
    expect(() => h.sim.injectFault({ op: "create" })).toThrow(/needs status, dropConnection or delayMs/);
    expect(() => h.sim.injectFault({ status: 429, probability: 2 })).toThrow(/probability/);
  });

  it("counts every operation and the ids it created", async () => {
    const { id } = await h.client.responses.create(BASE_REQUEST);
    h.clock.advance(5000);
    await h.client.responses.retrieve(id);
    for await (const _ of await h.client.responses.retrieve(id, { stream: true })) void _;
    await h.client.responses.cancel(id);
    await h.client.responses.delete(id);
    await caught(h.client.responses.retrieve(id));
    expect(h.sim.stats()).toMatchObject({
      requests: 6,
      ops: { create: 1, retrieve: 2, stream: 1, cancel: 1, delete: 1 },
      createdIds: [id],
    });
    h.sim.resetStats();
    expect(h.sim.stats()).toMatchObject({ requests: 0, createdIds: [], ops: { create: 0 } });
  });
});
