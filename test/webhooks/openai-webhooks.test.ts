import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Webhook } from "standardwebhooks";
import { createApp } from "#shared/http/app.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";

// OpenAI's signing test vector: a real OpenAI event with its signature, from openai-node's own tests.
const VECTOR = {
  secret: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=",
  id: "wh_685c059ae39c8190af8c71ed1022a24d",
  timestamp: 1750861210,
  body: '{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}',
  signature: "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
};

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay({
    env: { OPENAI_WEBHOOK_SECRET: VECTOR.secret },
    behaviour: { queuedMs: 500, runMs: 2000 },
  });
});
afterAll(() => relay.close());
afterEach(() => vi.useRealTimers());

const post = (body: string, headers: Record<string, string>) =>
  fetch(`${relay.url}/v1/webhooks/openai`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
const vectorHeaders = (over: Record<string, string> = {}) => ({
  "webhook-id": VECTOR.id,
  "webhook-timestamp": String(VECTOR.timestamp),
  "webhook-signature": VECTOR.signature,
  ...over,
});

describe("POST /v1/webhooks/openai", () => {
  it("accepts OpenAI's signing test vector (at its own time)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime((VECTOR.timestamp + 10) * 1000);
    const res = await post(VECTOR.body, vectorHeaders());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
  });

  it.each([
    ["a tampered body", VECTOR.body.replace("resp_123", "resp_124"), {}],
    [
      "a wrong signature",
      VECTOR.body,
      { "webhook-signature": "v1,Z1VBZzJoV291UlpxUlFHNHVKeXBOUzhZSzg4NUc4MzgrRUhiNG5LQlk=" },
    ],
    ["a missing signature", VECTOR.body, { "webhook-signature": "" }],
  ])("refuses %s", async (_label, body, headers) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime((VECTOR.timestamp + 10) * 1000);
    const res = await post(body, vectorHeaders(headers as Record<string, string>));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_signature");
  });

  it.each([
    ["more than 5 minutes old", VECTOR.timestamp + 301],
    ["more than 5 minutes in the future", VECTOR.timestamp - 301],
  ])("refuses a timestamp %s, accepts one within", async (_label, now) => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(now * 1000);
    expect((await post(VECTOR.body, vectorHeaders())).status).toBe(400);
    vi.setSystemTime((now > VECTOR.timestamp ? VECTOR.timestamp + 299 : VECTOR.timestamp - 299) * 1000);
    // (the signature covers the id, so the vector is replayed as is: verification runs before dedupe)
    expect((await post(VECTOR.body, vectorHeaders())).status).toBe(200);
  });

  it("refuses events signed with another secret", async () => {
    const other = new Webhook(`whsec_${Buffer.alloc(32, 7).toString("base64")}`);
    const at = new Date();
    const res = await post(VECTOR.body, {
      "webhook-id": "wh_other",
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": other.sign("wh_other", at, VECTOR.body),
    });
    expect(res.status).toBe(400);
  });

  it("is disabled (404) when no secret is configured", async () => {
    const app = createApp(relay.deps, { maxBodyBytes: 1 << 20, log: () => {} });
    const res = await app.request("/v1/webhooks/openai", {
      method: "POST",
      body: VECTOR.body,
      headers: vectorHeaders(),
    });
    expect(res.status).toBe(404);
  });

  it("advances the job at once when the simulator's real webhook arrives, and dedupes repeats", async () => {
    relay.sim.setWebhook({ url: `${relay.url}/v1/webhooks/openai`, secret: VECTOR.secret, duplicates: 1 });
    // Earlier tests here posted events for responses the relay does not know (each looked up once).
    const retrievesBefore = relay.sim.stats().ops.retrieve ?? 0;
    const res = await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "fast lane" });
    // The poller is never ticked: only OpenAI's webhook can move the job.
    relay.clock.advance(10_000);
    let status = "";
    for (let i = 0; i < 100 && status !== "completed"; i++) {
      await new Promise((r) => setTimeout(r, 30));
      status = (await relay.call("GET", `/v1/responses/${res.body.id}`)).body.status;
    }
    expect(status).toBe("completed");
    await new Promise((r) => setTimeout(r, 300));
    expect(relay.sim.stats().webhooks.delivered).toBeGreaterThanOrEqual(2);
    // one upstream GET for the event; the duplicate was recognised and did nothing
    expect((relay.sim.stats().ops.retrieve ?? 0) - retrievesBefore).toBe(1);
    relay.sim.setWebhook(null);
  });

  it("ignores events for responses it does not track", async () => {
    const wh = new Webhook(VECTOR.secret);
    const at = new Date();
    const body = JSON.stringify({
      id: "evt_x",
      object: "event",
      created_at: 1,
      type: "response.completed",
      data: { id: "resp_not_ours" },
    });
    const res = await post(body, {
      "webhook-id": "wh_unknown",
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": wh.sign("wh_unknown", at, body),
    });
    expect(res.status).toBe(200);
  });
});
