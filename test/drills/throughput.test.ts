/**
 * Drill: a burst of 2,000 jobs (400 inside `npm test`: ./scale.ts) submitted at once through the HTTP API, in real time, one poller
 * invocation after another: nothing lost, nothing doubled, every webhook delivered, within a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock, type ManualClock } from "#shared/clock.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { setLimits } from "#shared/use-cases/manage-keys.ts";
import { drillSize } from "./scale.ts";
import { allJobs, checkAllTerminal, checkUpstreamCreates, checkWebhooks } from "./invariants.ts";

const JOBS = drillSize(400, 2_000);
/** Submit, run and deliver all of them within this (wall time, on 2 cores shared with the rest of the suite). */
const BOUND_MS = 300_000;

let relay: RelayHarness;
let receiver: Receiver;
beforeAll(async () => {
  relay = await startRelay({
    clock: systemClock as ManualClock,
    behaviour: { queuedMs: 500, runMs: 1_500, latencyMs: 0 },
  });
  // A bulk tenant, as an operator would set one up (`npm run keys -- limits`): the defaults allow
  // 1,000 pending jobs, and this burst keeps 2,000 pending at once.
  await setLimits(relay.deps.tenants, relay.tenant.id, { pendingJobs: JOBS, requestsPerMinute: 100_000 });
  receiver = await startReceiver((await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!);
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

describe("drill: thousands of jobs at once", () => {
  it(
    `runs ${JOBS} jobs to completed and delivers ${JOBS} webhooks, none lost or doubled`,
    async () => {
      const h = relay;
      const started = Date.now();
      const stop = new AbortController();
      // Invocations back to back (10 s budgets), as EventBridge's schedule runs them, compressed.
      const invocations = (async () => {
        let count = 0;
        while (!stop.signal.aborted) {
          await h.newPoller({ tickMs: 200, concurrency: 32 }).run({ budgetMs: 10_000, signal: stop.signal });
          count++;
        }
        return count;
      })();

      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < JOBS) {
            const i = next++;
            const res = await h.call("POST", "/v1/responses", {
              background: true,
              model: "gpt-5-pro",
              input: `burst ${i}`,
              webhook: { url: receiver.url },
            });
            expect(res.status).toBe(202);
            ids.push(res.body.id);
          }
        }),
      );
      const submittedMs = Date.now() - started;

      // Wait on the receiver (cheap), then on the table for the last delivery records.
      const deliveredJobs = () => new Set(receiver.accepted().map((r) => JSON.parse(r.body).data.id as string)).size;
      while (deliveredJobs() < JOBS && Date.now() - started < BOUND_MS) await new Promise((r) => setTimeout(r, 250));
      let jobs = await allJobs(h.deps.jobs, h.tenant.id);
      while (
        !(jobs.length === JOBS && jobs.every((job) => job.delivery?.state === "delivered")) &&
        Date.now() - started < BOUND_MS
      ) {
        await new Promise((r) => setTimeout(r, 500));
        jobs = await allJobs(h.deps.jobs, h.tenant.id);
      }
      const doneMs = Date.now() - started;
      stop.abort();
      const invocationCount = await invocations;
      await new Promise((r) => setTimeout(r, 300));

      // A sample read back through the API, the rest straight from the table.
      const finalReads = new Map<string, string>();
      for (const id of ids.filter((_, i) => i % 20 === 0))
        finalReads.set(id, (await h.call("GET", `/v1/responses/${id}`)).body.status);

      expect(new Set(ids).size).toBe(JOBS);
      expect(jobs.map((j) => j.id).sort()).toEqual([...ids].sort());
      expect(checkAllTerminal(jobs, finalReads)).toEqual([]);
      expect(jobs.filter((j) => j.status !== "completed").map((j) => `${j.id} ${j.status}`)).toEqual([]);
      const upstream = checkUpstreamCreates(h.sim, jobs);
      expect(upstream.violations).toEqual([]);
      expect(upstream.unrecorded).toEqual([]);
      expect(h.sim.stats().createdIds).toHaveLength(JOBS);
      expect(checkWebhooks(receiver.received, jobs)).toEqual([]);
      expect(receiver.accepted()).toHaveLength(JOBS);
      expect(doneMs).toBeLessThan(BOUND_MS);
      console.log(
        `[drill throughput] ${JOBS} jobs: submitted in ${(submittedMs / 1000).toFixed(1)} s (${Math.round(JOBS / (submittedMs / 1000))}/s), ` +
          `all completed and delivered after ${(doneMs / 1000).toFixed(1)} s (${Math.round(JOBS / (doneMs / 1000))} jobs/s end to end), ${invocationCount} poller invocations, ` +
          `${h.sim.stats().ops.retrieve} upstream polls, ${receiver.received.length} webhook requests`,
      );
    },
    BOUND_MS + 60_000,
  );
});
