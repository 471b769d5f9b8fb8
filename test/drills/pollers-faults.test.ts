/**
 * Drill: three pollers on one table, an upstream that answers 429 or 5xx to a third of all calls
 * (creates, polls and cancels alike), and the callers' webhook receiver down for six hours.
 * Injected time (a ManualClock shared by the relay and the simulator), so the six hours and the
 * webhook retry schedule (5 s, 5 min, 30 min, 2 h, 5 h…) pass in seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "#shared/clock.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import {
  allJobs,
  checkAllTerminal,
  checkStatusHistory,
  checkUpstreamCreates,
  checkWebhooks,
  TERMINAL,
  type StatusRead,
} from "./invariants.ts";
import { recordTransitions } from "#test/support/transitions.ts";
import { drillSize } from "./scale.ts";

const JOBS = drillSize(30, 60);
const HOUR = 3_600_000;

let relay: RelayHarness;
let receiver: Receiver;
beforeAll(async () => {
  // Injected time from the real now: DynamoDB Local expires items by TTL (retention days from the job's clock) against the real clock.
  relay = await startRelay({
    clock: new ManualClock(Date.now()),
    behaviour: { queuedMs: 2_000, runMs: 20_000, latencyMs: 0 },
  });
  receiver = await startReceiver((await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!);
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

describe("drill: three pollers, a flaky upstream, a receiver down for six hours", () => {
  it("ends every job exactly once and delivers every webhook, with a stable webhook-id, once the receiver is back", async () => {
    const wallStarted = Date.now();
    const h = relay;
    const t0 = h.clock.now();
    const transitions = recordTransitions(h.deps.jobs);
    const down = { until: t0 + 6 * HOUR };
    const attemptsWhileDown = new Map<string, number>();
    receiver.reply(({ body }) => {
      if (h.clock.now() >= down.until) return { status: 200 };
      const id = JSON.parse(body).data.id as string;
      attemptsWhileDown.set(id, (attemptsWhileDown.get(id) ?? 0) + 1);
      return { status: 503 };
    });
    // A third of all upstream calls fail: 1/6 with 429 (Retry-After 2 s), then a fifth of the rest with a 5xx.
    h.sim.injectFault({ op: "any", status: 429, retryAfterSeconds: 2, probability: 1 / 6, times: Infinity });
    h.sim.injectFault({ op: "any", status: 503, probability: 0.1, times: Infinity });
    h.sim.injectFault({ op: "any", status: 500, probability: 0.1 / 0.9, times: Infinity });

    // Calls here are sequential, so a counter orders them (sent, answered) exactly.
    const reads: StatusRead[] = [];
    let tick = 0;
    const read = async (id: string) => {
      const sentAt = ++tick;
      const res = await h.call("GET", `/v1/responses/${id}`);
      expect(res.status).toBe(200);
      reads.push({ id, status: res.body.status, sentAt, at: ++tick });
      return res.body.status as string;
    };

    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const sentAt = ++tick;
      const res = await h.call("POST", "/v1/responses", {
        background: true,
        model: "gpt-5-pro",
        input: `flaky ${i}`,
        metadata: {
          sim_run_ms: String(10_000 + ((i * 7919) % 50_000)),
          sim_outcome: i % 10 === 4 ? "failed" : i % 15 === 6 ? "incomplete" : "completed",
        },
        webhook: { url: receiver.url },
      });
      // A create refused with 429/5xx leaves the job pending (the poller creates it later): still 202.
      expect(res.status).toBe(202);
      ids.push(res.body.id);
      reads.push({ id: res.body.id, status: res.body.status, sentAt, at: ++tick });
    }
    const cancelAt = new Map(ids.filter((_, i) => i % 12 === 5).map((id, k) => [id, t0 + 3_000 + k * 4_000]));

    const pollers = [h.newPoller({ leaseMs: 5_000 }), h.newPoller({ leaseMs: 5_000 }), h.newPoller({ leaseMs: 5_000 })];
    const tickAll = () => Promise.all(pollers.map((p) => p.tick()));
    const store = h.deps.jobs;
    const everyJob = () => allJobs(store, h.tenant.id);

    // Until every job has ended (2 s steps, the production tick; cancels on the way, status reads every 30 s).
    for (let step = 0; ; step++) {
      h.clock.advance(2_000);
      for (const [id, at] of cancelAt) {
        if (h.clock.now() < at) continue;
        cancelAt.delete(id);
        const sentAt = ++tick;
        const res = await h.call("POST", `/v1/responses/${id}/cancel`);
        expect(res.status).toBe(200);
        reads.push({ id, status: res.body.status, sentAt, at: ++tick });
      }
      await tickAll();
      if (step % 15 === 0) for (const id of ids) await read(id);
      if (cancelAt.size === 0 && (await everyJob()).every((job) => TERMINAL.has(job.status))) break;
      if (step > 450) throw new Error("jobs did not all end within 15 minutes of injected time");
    }
    const endedAt = h.clock.now();

    // The receiver stays down until six hours after the start: pollers keep retrying on schedule
    // (the endpoint's circuit breaker probes it once a minute meanwhile). The last tick here is
    // still inside the outage: a probe sent once it is over is answered, as it should be.
    while (h.clock.now() + 15 * 60_000 < down.until) {
      h.clock.advance(15 * 60_000);
      await tickAll();
    }
    expect(receiver.accepted()).toHaveLength(0);
    // Back up: every pending delivery goes out at its next scheduled attempt (within ~10 h).
    for (let step = 0; ; step++) {
      h.clock.advance(20 * 60_000);
      await tickAll();
      if ((await everyJob()).every((job) => job.delivery?.state === "delivered")) break;
      if (step > 3 * 24) throw new Error("webhooks not all delivered within a day of the receiver coming back");
    }
    const deliveredAt = h.clock.now();
    // Nothing more to send: more time changes nothing.
    const requestsSoFar = receiver.received.length;
    for (let i = 0; i < 5; i++) {
      h.clock.advance(2 * HOUR);
      await tickAll();
    }
    expect(receiver.received.length).toBe(requestsSoFar);

    const jobs = await allJobs(store, h.tenant.id);
    const finalReads = new Map<string, string>();
    for (const id of ids) finalReads.set(id, await read(id));
    expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
    expect(checkAllTerminal(jobs, finalReads)).toEqual([]);
    expect(checkStatusHistory(reads)).toEqual([]);
    expect(checkUpstreamCreates(h.sim, jobs).violations).toEqual([]);
    expect(checkWebhooks(receiver.received, jobs)).toEqual([]);
    // Exactly one terminal transition per job in the store, whatever raced (three pollers, cancels, retries).
    for (const id of ids) {
      const ends = transitions.filter((t) => t.jobId === id && TERMINAL.has(t.to));
      expect(
        ends.map((t) => t.to),
        `terminal transitions of ${id}`,
      ).toEqual([jobs.find((j) => j.id === id)!.status]);
    }
    // Each webhook was tried while the receiver was down, until the endpoint's circuit breaker
    // marked it failing (docs/decisions/0009-delivery-lanes.md); from then on one probe a minute
    // stood for all of them, so the outage cost fewer attempts than each job's own schedule
    // (now, 5 s, 5 min, 30 min, 2 h…, at least 5 each) would have made. Then each arrived once.
    for (const id of ids)
      expect(attemptsWhileDown.get(id) ?? 0, `attempts for ${id} while down`).toBeGreaterThanOrEqual(1);
    const totalWhileDown = [...attemptsWhileDown.values()].reduce((a, b) => a + b, 0);
    expect(totalWhileDown).toBeLessThan(5 * JOBS);
    expect(receiver.accepted()).toHaveLength(JOBS);
    const faults = h.sim.stats();
    expect(faults.faultsApplied / faults.requests).toBeGreaterThan(0.25);

    await Promise.all(pollers.map((p) => p.releaseAll()));
    const count = (status: string) => jobs.filter((j) => j.status === status).length;
    console.log(
      `[drill pollers-faults] ${JOBS} jobs, 3 pollers; upstream: ${faults.requests} calls, ${faults.faultsApplied} answered 429/5xx (${Math.round((faults.faultsApplied / faults.requests) * 100)} %); ` +
        `outcomes: ${["completed", "failed", "cancelled", "incomplete"].map((s) => `${s} ${count(s)}`).join(", ")}; ` +
        `all ended ${((endedAt - t0) / 60_000).toFixed(1)} min after the start (injected), all delivered ${((deliveredAt - t0) / HOUR).toFixed(1)} h after; ` +
        `${receiver.received.length} webhook requests; wall ${((Date.now() - wallStarted) / 1000).toFixed(1)} s`,
    );
  }, 120_000);
});
