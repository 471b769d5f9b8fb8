import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { newWebhookSecret } from "#shared/ids.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";

let relay: RelayHarness;
let receiver: Receiver;
let secret: string;
beforeEach(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 3000 } });
  secret = (await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!;
  receiver = await startReceiver(secret);
});
afterEach(async () => {
  await receiver.close();
  await relay.close();
});

const submit = (extra: Record<string, unknown> = {}, webhook: Record<string, unknown> = {}) =>
  relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: `job ${Math.random()}`,
    webhook: { url: receiver.url, ...webhook },
    ...extra,
  });
const event = (r: { body: string }) => JSON.parse(r.body);
const until = (done: () => boolean | Promise<boolean>, opts?: Parameters<RelayHarness["runUntil"]>[1]) =>
  relay.runUntil(done, opts);

describe("signed webhook delivery", () => {
  it("delivers exactly one verified event per ended job, the full Response inline", async () => {
    const ids = [
      (await submit()).body.id,
      (await submit({ metadata: { sim_outcome: "failed" } })).body.id,
      (await submit({ metadata: { sim_outcome: "incomplete" } })).body.id,
    ];
    const cancelled = (await submit({ metadata: { sim_run_ms: "600000" } })).body.id;
    await relay.call("POST", `/v1/responses/${cancelled}/cancel`);
    ids.push(cancelled);
    await until(() => receiver.accepted().length >= 4);
    for (let i = 0; i < 10; i++) {
      relay.clock.advance(60_000);
      await relay.poller.tick();
    }
    expect(receiver.received).toHaveLength(4);
    expect(receiver.accepted()).toHaveLength(4);
    const byId = new Map(receiver.received.map((r) => [event(r).data.id, r]));
    expect([...byId.keys()].sort()).toEqual([...ids].sort());
    const completed = event(byId.get(ids[0]!)!);
    expect(completed).toMatchObject({
      object: "event",
      type: "response.completed",
      id: expect.stringMatching(/^evt_/),
    });
    expect(Number.isInteger(completed.created_at)).toBe(true);
    const status = (await relay.call("GET", `/v1/responses/${ids[0]}`)).body;
    expect(completed.data.output).toEqual(status.output);
    expect(completed.data.usage).toEqual(status.usage);
    expect(event(byId.get(ids[1]!)!).type).toBe("response.failed");
    expect(event(byId.get(ids[2]!)!).type).toBe("response.incomplete");
    expect(event(byId.get(ids[3]!)!).type).toBe("response.cancelled");
    expect(status.relay.webhook.delivery).toMatchObject({ state: "delivered", attempts: 1, last_status: 200 });
  });

  it("sends the webhook in the same poller step that sees the job end (no extra tick)", async () => {
    const res = await submit();
    let ticks = 0;
    await until(async () => {
      ticks++;
      return (await relay.deps.jobs.get(res.body.id))!.status === "completed";
    });
    expect(receiver.accepted()).toHaveLength(1);
    expect(ticks).toBeGreaterThan(1);
  });

  it("honours the event filter", async () => {
    const res = await submit({ metadata: { sim_outcome: "failed" } }, { events: ["response.completed"] });
    const done = await relay.settle(res.body.id);
    expect(done.status).toBe("failed");
    for (let i = 0; i < 5; i++) {
      relay.clock.advance(10_000);
      await relay.poller.tick();
    }
    expect(receiver.received).toHaveLength(0);
    expect(done.relay.webhook.delivery).toBeNull();
  });

  it("sends a thin event when the Response is too large to inline", async () => {
    const res = await submit({ metadata: { sim_output_bytes: String(300_000) } });
    await until(() => receiver.accepted().length === 1);
    const body = event(receiver.received[0]!);
    expect(Buffer.byteLength(receiver.received[0]!.body)).toBeLessThan(64 * 1024);
    expect(body.data).toMatchObject({ id: res.body.id, status: "completed", relay: { output_omitted: true } });
    expect(body.data.output).toBeUndefined();
    expect(body.data.usage.output_tokens).toBeGreaterThan(0);
    expect(body.data.relay.status_url).toMatch(new RegExp(`/v1/responses/${res.body.id}$`));
  });

  it("keeps retrying a receiver that is down for hours, always with the same webhook-id", async () => {
    receiver.reply(() => ({ status: 503 }));
    const ids = [(await submit()).body.id, (await submit()).body.id];
    await until(() => receiver.received.length >= 4, { stepMs: 1000, maxSteps: 200 });
    // six hours of failures, time injected
    for (let hour = 0; hour < 6 * 12; hour++) {
      relay.clock.advance(5 * 60_000);
      await relay.poller.tick();
    }
    expect(receiver.accepted()).toHaveLength(0);
    const attemptsWhileDown = receiver.received.length;
    expect(attemptsWhileDown).toBeGreaterThanOrEqual(2 * 5); // now, 5 s, 5 min, 30 min, 2 h, 5 h…
    receiver.reply(() => ({ status: 204 }));
    await until(() => receiver.accepted().length === 2, { stepMs: 10 * 60_000, maxSteps: 200 });
    for (const id of ids) {
      const forJob = receiver.received.filter((r) => event(r).data.id === id || event(r).data?.id === id);
      expect(new Set(forJob.map((r) => r.headers["webhook-id"])).size).toBe(1);
      const timestamps = forJob.map((r) => Number(r.headers["webhook-timestamp"]));
      expect(timestamps.every((t) => Number.isInteger(t))).toBe(true);
    }
    const log = (await relay.call("GET", `/v1/responses/${ids[0]}/deliveries`)).body;
    expect(log.delivery.state).toBe("delivered");
    expect(log.data.at(-1)).toMatchObject({ status_code: 204, next_retry_at: null });
    expect(log.data[0]).toMatchObject({ status_code: 503, error: "HTTP 503" });
    expect(log.data[0].next_retry_at).toBeGreaterThan(log.data[0].attempted_at);
  });

  it("gives up after the last scheduled attempt and says so", async () => {
    receiver.reply(() => ({ status: 500 }));
    const res = await submit();
    await until(
      async () =>
        (await relay.call("GET", `/v1/responses/${res.body.id}`)).body.relay.webhook.delivery?.state === "exhausted",
      { stepMs: 30 * 60_000, maxSteps: 200 },
    );
    expect(receiver.received).toHaveLength(8);
    expect(relay.metrics.filter((m) => m.name === "WebhookDeliveriesExhausted")).toEqual([
      { name: "WebhookDeliveriesExhausted", value: 1 },
    ]);
    relay.clock.advance(48 * 3600_000);
    await relay.poller.tick();
    expect(receiver.received).toHaveLength(8);
  });

  it("never follows a redirect: 3xx is a failed attempt", async () => {
    const elsewhere = await startReceiver(secret);
    receiver.reply(() => ({ status: 302, headers: { location: elsewhere.url } }));
    const res = await submit();
    await until(() => receiver.received.length >= 2, { stepMs: 5000 });
    expect(elsewhere.received).toHaveLength(0);
    const log = (await relay.call("GET", `/v1/responses/${res.body.id}/deliveries`)).body;
    expect(log.data[0]).toMatchObject({ status_code: 302, error: "HTTP 302" });
    await elsewhere.close();
  });

  it("stops at once on 410 Gone", async () => {
    receiver.reply(() => ({ status: 410 }));
    const res = await submit();
    await until(() => receiver.received.length === 1);
    for (let i = 0; i < 20; i++) {
      relay.clock.advance(3600_000);
      await relay.poller.tick();
    }
    expect(receiver.received).toHaveLength(1);
    expect((await relay.call("GET", `/v1/responses/${res.body.id}`)).body.relay.webhook.delivery.state).toBe("gone");
  });

  it("waits for the receiver's Retry-After", async () => {
    receiver.reply(() => ({ status: 429, headers: { "retry-after": "3600" } }));
    const res = await submit();
    await until(() => receiver.received.length === 1);
    const [first] = (await relay.call("GET", `/v1/responses/${res.body.id}/deliveries`)).body.data;
    expect(first.next_retry_at - first.attempted_at).toBeGreaterThanOrEqual(3600);
    receiver.reply(() => ({ status: 200 }));
    for (let i = 0; i < 55; i++) {
      relay.clock.advance(60_000);
      await relay.poller.tick();
    }
    expect(receiver.received).toHaveLength(1);
    await until(() => receiver.accepted().length === 1, { stepMs: 60_000 });
  });

  it("redelivers the final event on request with the same webhook-id", async () => {
    const res = await submit();
    await until(() => receiver.accepted().length === 1);
    const again = await relay.call("POST", `/v1/responses/${res.body.id}/deliveries/redeliver`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: "delivered", attempts: 2, last_status: 200 });
    expect(receiver.accepted()).toHaveLength(2);
    expect(receiver.received[1]!.headers["webhook-id"]).toBe(receiver.received[0]!.headers["webhook-id"]);
    expect(event(receiver.received[1]!).data.id).toBe(res.body.id);
    const log = (await relay.call("GET", `/v1/responses/${res.body.id}/deliveries`)).body.data;
    expect(log.map((a: any) => a.manual)).toEqual([false, true]);
  });

  it("refuses to redeliver before the job ends, or without a webhook", async () => {
    const running = await submit({ metadata: { sim_run_ms: "600000" } });
    const early = await relay.call("POST", `/v1/responses/${running.body.id}/deliveries/redeliver`);
    expect(early.status).toBe(400);
    const plain = await relay.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "no hook" });
    expect((await relay.call("POST", `/v1/responses/${plain.body.id}/deliveries/redeliver`)).status).toBe(400);
  });

  it("signs with both secrets during a rotation", async () => {
    const tenant = (await relay.deps.tenants.getTenant(relay.tenant.id))!;
    const next = newWebhookSecret();
    await relay.deps.tenants.putTenant({ ...tenant, webhookSecrets: [next, secret] });
    const res = await submit();
    await until(() => receiver.received.length === 1);
    const r = receiver.received[0]!;
    expect(String(r.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    // receivers on either the old or the new secret accept it
    expect(() => new Webhook(secret).verify(r.body, r.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(next).verify(r.body, r.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(r.body, r.headers as Record<string, string>)).toThrow();
    expect(event(r).data.id).toBe(res.body.id);
  });

  it("two pollers never send the same attempt twice", async () => {
    const pollers = [relay.newPoller(), relay.newPoller(), relay.newPoller()];
    for (let i = 0; i < 5; i++) await submit();
    await until(() => receiver.accepted().length === 5, { pollers });
    for (let i = 0; i < 10; i++) {
      relay.clock.advance(60_000);
      await Promise.all(pollers.map((p) => p.tick()));
    }
    expect(receiver.received).toHaveLength(5);
    await Promise.all(pollers.map((p) => p.releaseAll()));
  });
});

describe("a crash mid-delivery loses nothing", () => {
  it.each([
    ["after claiming the attempt, before sending", "before-send"],
    ["after sending, before recording the outcome", "after-send"],
  ] as const)("%s: the event still arrives, with the same webhook-id", async (_label, where) => {
    const sender = relay.deps.webhooks;
    const send = sender.send.bind(sender);
    let crashed = false;
    sender.send = async (request) => {
      if (!crashed && where === "before-send") {
        crashed = true;
        throw new Error("process stopped");
      }
      const result = await send(request);
      if (!crashed && where === "after-send") {
        crashed = true;
        throw new Error("process stopped");
      }
      return result;
    };
    const res = await submit();
    await until(() => crashed);
    const fresh = relay.newPoller();
    await until(
      async () =>
        (await relay.call("GET", `/v1/responses/${res.body.id}`)).body.relay.webhook.delivery?.state === "delivered",
      { pollers: [fresh], stepMs: 10_000 },
    );
    expect(receiver.accepted().length).toBe(where === "before-send" ? 1 : 2);
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    await fresh.releaseAll();
  });
});
