/**
 * The circuit breaker over a webhook endpoint, under a ManualClock: sustained failure spaces the
 * attempts out, days of it disable the endpoint (visible in the job's status and delivery log),
 * and a redelivery turns it back on.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";

let relay: RelayHarness;
let receiver: Receiver;
beforeEach(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 1000 } });
  receiver = await startReceiver(relay.tenant.webhookSecrets[0]!);
  receiver.reply(() => ({ status: 503 }));
});
afterEach(async () => {
  await receiver.close();
  await relay.close();
});

const submit = async () => {
  const res = await relay.call("POST", "/v1/responses", {
    background: true,
    model: "gpt-5-pro",
    input: `job ${Math.random()}`,
    webhook: { url: receiver.url },
  });
  expect(res.status).toBe(202);
  return res.body.id as string;
};
const deliveries = async (id: string) => (await relay.call("GET", `/v1/responses/${id}/deliveries`)).body;
const HOUR = 3_600_000;

describe("a webhook endpoint that keeps failing", () => {
  it("is marked failing and gets one attempt a minute, then is disabled after days; a redeliver re-enables it", {
    timeout: 240_000,
  }, async () => {
    const first = await Promise.all(Array.from({ length: 6 }, submit));
    // Every job's first attempt, then the 5 s retries: failures in a row, but not yet sustained.
    await relay.runUntil(() => receiver.received.length >= 12);
    expect((await deliveries(first[0]!)).endpoint).toMatchObject({ state: "healthy" });
    // Two minutes and more of failing: the next failure marks the endpoint failing.
    relay.clock.advance(5 * 60_000);
    await relay.runUntil(async () => (await deliveries(first[0]!)).endpoint.state === "failing");
    const failing = (await deliveries(first[0]!)).endpoint;
    expect(failing.failures_in_a_row).toBeGreaterThanOrEqual(5);
    expect(failing.origin).toBe(new URL(receiver.url).origin);

    // New jobs to the same endpoint end: over ten minutes, about one attempt a minute in all.
    await Promise.all(Array.from({ length: 4 }, submit));
    const before = receiver.received.length;
    await relay.runUntil(() => false, { stepMs: 5_000, maxSteps: 120 }).catch(() => undefined);
    const sent = receiver.received.length - before;
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(sent).toBeLessThanOrEqual(12);

    // Days later, still failing: keep jobs coming so attempts keep being due, until it is disabled.
    const late: string[] = [];
    await relay.runUntil(
      async () => {
        late.push(await submit());
        return (await deliveries(late.at(-1)!)).endpoint.state === "disabled";
      },
      { stepMs: 4 * HOUR, maxSteps: 40 },
    );
    // The jobs still owed a webhook say so once their next attempt comes due, without sending.
    const sentBefore = receiver.received.length;
    const last = late.at(-1)!;
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${last}`)).body.relay.webhook.delivery?.state === "disabled",
      { stepMs: 60_000 },
    );
    expect(receiver.received.length).toBe(sentBefore);
    const status = (await relay.call("GET", `/v1/responses/${last}`)).body;
    expect(status.relay.webhook.delivery.last_error).toMatch(/disabled.*redeliver re-enables it/);
    const log = await deliveries(last);
    expect(log.delivery.state).toBe("disabled");
    expect(log.endpoint.state).toBe("disabled");
    expect(log.data.at(-1).error).toMatch(/^not sent: .*disabled/);
    // Nothing more is tried: the job left the poller's work.
    expect(await relay.deps.jobs.get(last)).toMatchObject({ delivery: { nextAttemptAt: null } });

    // The receiver is fixed; a redeliver sends at once and turns the endpoint back on.
    receiver.reply(() => ({ status: 200 }));
    const redelivered = await relay.call("POST", `/v1/responses/${last}/deliveries/redeliver`);
    expect(redelivered.body).toMatchObject({ state: "delivered", last_status: 200 });
    expect((await deliveries(last)).endpoint).toMatchObject({ state: "healthy", failures_in_a_row: 0 });
    const fresh = await submit();
    await relay.runUntil(async () => (await relay.deps.jobs.get(fresh))!.delivery?.state === "delivered");
  });
});
