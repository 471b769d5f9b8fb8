/**
 * Drill: the relay process is killed with SIGKILL at random moments while 100 jobs (60 inside `npm test`: ./scale.ts) are in flight,
 * and restarted, four times. DynamoDB Local, the upstream simulator and the caller's webhook
 * receiver live in this process and survive every kill. Time in the relay and the simulator runs
 * 20× faster than the wall clock (test/drills/time.ts), so create grace periods, shard leases and
 * webhook attempt claims (minutes) pass in seconds.
 *
 * The history (every status read, every upstream create, every webhook received) is checked at
 * the end: a lost job, a job created upstream twice, a terminal state that changes, or a webhook
 * that never arrives fails the drill.
 */
import { afterAll, describe, expect, it } from "vitest";
import { newWebhookSecret } from "#shared/ids.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { freePort } from "#local/dynamodb-local.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { createTestTable } from "#test/support/dynamo.ts";
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
import { RelayProcess } from "./relay-child.ts";
import { compressedClock } from "./time.ts";
import { drillSize } from "./scale.ts";

const JOBS = drillSize(60, 100);
/** Everything (kills included) must be over by then; the test's own timeout is a little longer. */
const BUDGET_MS = 200_000;
const KILLS = 4;
const SPEED = 20;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const debug = process.env.DRILL_DEBUG
  ? (msg: string) => console.error(`[sigkill ${new Date().toISOString().slice(17, 23)}] ${msg}`)
  : () => {};

describe(`drill: SIGKILL the relay while ${JOBS} jobs are in flight`, () => {
  let relay: RelayProcess | undefined;
  let sim: Simulator | undefined;
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await relay?.kill();
    await receiver?.close();
    await sim?.close();
  });

  it(
    "ends every job exactly once, never creates upstream twice, delivers every webhook with a stable id",
    async () => {
      const wallStarted = Date.now();
      const deadlineAt = wallStarted + BUDGET_MS - 15_000;
      const table = await createTestTable("drill-kill");
      const store = new DynamoJobStore({ doc: table.doc, tableName: table.tableName });
      const { tenant, apiKey } = await createTenant(
        new DynamoTenantStore({ doc: table.doc, tableName: table.tableName }),
        { name: "drill" },
      );
      receiver = await startReceiver(tenant.webhookSecrets[0]!);
      const t0 = Date.now();
      const clock = compressedClock(t0, SPEED);
      sim = await startSimulator({ clock, seed: 77, behaviour: { latencyMs: 5 } });
      const port = await freePort();
      const relayUrl = `http://127.0.0.1:${port}`;
      const openaiSecret = newWebhookSecret();
      // OpenAI's own webhooks too: they hit a dead relay now and then (and give up); polling is the backstop.
      sim.setWebhook({ url: `${relayUrl}/v1/webhooks/openai`, secret: openaiSecret });
      relay = new RelayProcess({
        DRILL_DYNAMO: table.endpoint,
        DRILL_TABLE: table.tableName,
        DRILL_UPSTREAM: sim.url,
        DRILL_PORT: String(port),
        DRILL_OPENAI_SECRET: openaiSecret,
        DRILL_T0: String(t0),
        DRILL_SPEED: String(SPEED),
        // A create killed before it left the relay is confirmed until its deadline (gpt-5: 20 min,
        // 1 min of real time here) and then given up; no slack after it, or the drill outlasts it.
        DRILL_CONFIRM_SLACK_MS: "0",
      });
      await relay.start();

      // ---- the history ----
      const reads: StatusRead[] = [];
      const accepted = new Map<number, string>(); // request number -> job id (one Idempotency-Key each)
      const cancels: string[] = []; // what each cancel answered
      let random = 0x2545f491;
      const rand = () => (random = (Math.imul(random, 1103515245) + 12345) >>> 0) / 2 ** 32;

      const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${relayUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            ...(body ? { "content-type": "application/json" } : {}),
            ...headers,
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(10_000),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      /** Retries through kills and restarts (connection refused, reset, timeouts) until an answer comes. */
      const retrying = async <T>(what: string, fn: () => Promise<T | null>): Promise<T> => {
        for (;;) {
          try {
            const result = await fn();
            if (result !== null) return result;
          } catch {
            /* the relay is down or died mid-request */
          }
          if (Date.now() > deadlineAt) throw new Error(`${what}: no answer before the deadline`);
          await sleep(50);
        }
      };

      // Submissions paced over ~5 s of wall time, so kills land while jobs are being submitted,
      // created upstream, polled, finished and delivered. Every tenth job is also cancelled.
      const plans = Array.from({ length: JOBS }, (_, i) => ({
        i,
        queuedMs: Math.round(5_000 + rand() * 30_000), // compressed ms: 0.25–1.75 s of wall time
        runMs: Math.round(10_000 + rand() * 50_000), // 0.5–3 s
        outcome: i % 10 === 7 ? "failed" : i % 20 === 9 ? "incomplete" : "completed",
        cancelAfterMs: i % 10 === 3 ? 200 + Math.round(rand() * 1500) : null,
      }));
      const clients = plans.map(async (plan) => {
        await sleep(plan.i * 50);
        const id = await retrying(`submit #${plan.i}`, async () => {
          const sentAt = Date.now();
          const res = await call(
            "POST",
            "/v1/responses",
            {
              background: true,
              model: "gpt-5",
              input: `drill job ${plan.i}`,
              metadata: {
                sim_queued_ms: String(plan.queuedMs),
                sim_run_ms: String(plan.runMs),
                sim_outcome: plan.outcome,
              },
              webhook: { url: receiver!.url },
            },
            { "Idempotency-Key": `drill-${plan.i}` },
          );
          if (res.status !== 202) return null;
          reads.push({ id: res.body.id, status: res.body.status, sentAt, at: Date.now() });
          return res.body.id as string;
        });
        const previous = accepted.get(plan.i);
        if (previous && previous !== id)
          throw new Error(`Idempotency-Key drill-${plan.i} answered two jobs: ${previous}, ${id}`);
        accepted.set(plan.i, id);
        if (plan.cancelAfterMs !== null) {
          await sleep(plan.cancelAfterMs);
          await retrying(`cancel ${id}`, async () => {
            const sentAt = Date.now();
            const res = await call("POST", `/v1/responses/${id}/cancel`);
            if (res.status !== 200) return null;
            reads.push({ id, status: res.body.status, sentAt, at: Date.now() });
            cancels.push(res.body.status);
            return true;
          });
        }
      });

      // Clients reading every job's status over and over, through the kills.
      let reading = true;
      const reader = (async () => {
        while (reading) {
          const ids = [...accepted.values()];
          let next = 0;
          await Promise.all(
            Array.from({ length: 2 }, async () => {
              while (next < ids.length) {
                const id = ids[next++]!;
                try {
                  const sentAt = Date.now();
                  const res = await call("GET", `/v1/responses/${id}`);
                  if (res.status === 200) reads.push({ id, status: res.body.status, sentAt, at: Date.now() });
                } catch {
                  /* down */
                }
              }
            }),
          );
          await sleep(300);
        }
      })();

      // The kills: each at a random moment within a phase of the jobs' lives, so they land during
      // submits (between the intent, the upstream create and recording it), polls and terminal
      // writes, and webhook deliveries (between claiming an attempt, sending it and recording it).
      const phases: { name: string; reached: () => boolean }[] = [
        { name: "submitting", reached: () => accepted.size >= JOBS / 4 },
        { name: "running", reached: () => accepted.size >= JOBS * 0.8 },
        { name: "first webhooks", reached: () => receiver!.received.length >= JOBS * 0.15 },
        { name: "half delivered", reached: () => receiver!.received.length >= JOBS / 2 },
      ];
      const kills: { phase: string; atWallMs: number; accepted: number; unfinished: number }[] = [];
      for (const phase of phases.slice(0, KILLS)) {
        while (!phase.reached()) {
          if (Date.now() > deadlineAt) throw new Error(`phase "${phase.name}" never reached:\n${relay.stderr}`);
          await sleep(20);
        }
        debug(`phase ${phase.name} reached`);
        await sleep(rand() * 400);
        // In flight: not yet accepted, not yet ended, or its webhook not yet received.
        const latest = new Map<string, string>();
        for (const r of [...reads].sort((a, b) => a.at - b.at)) latest.set(r.id, r.status);
        const delivered = new Set(receiver.accepted().map((r) => JSON.parse(r.body).data.id as string));
        const settled = [...latest].filter(([id, status]) => TERMINAL.has(status) && delivered.has(id)).length;
        kills.push({
          phase: phase.name,
          atWallMs: Date.now() - wallStarted,
          accepted: accepted.size,
          unfinished: JOBS - settled,
        });
        await relay.kill();
        debug("killed");
        await relay.start();
        debug("restarted");
      }
      debug("kills done; waiting for clients");
      await Promise.all(clients);
      debug("clients done");

      // Wait until the table says everything ended and every webhook was delivered.
      let jobs = await allJobs(store, tenant.id);
      while (
        !(jobs.length >= JOBS && jobs.every((job) => TERMINAL.has(job.status) && job.delivery?.state === "delivered"))
      ) {
        if (Date.now() > deadlineAt) break;
        await sleep(250);
        jobs = await allJobs(store, tenant.id);
        debug(
          `${jobs.length} jobs, ${jobs.filter((j) => TERMINAL.has(j.status)).length} ended, ${jobs.filter((j) => j.delivery?.state === "delivered").length} delivered; states ${JSON.stringify(
            jobs
              .filter((j) => !TERMINAL.has(j.status) || j.delivery?.state !== "delivered")
              .slice(0, 3)
              .map((j) => [j.status, j.createState, j.delivery]),
          )}`,
        );
      }
      reading = false;
      await reader;
      // Late duplicates (an attempt sent just before a kill, resent after its claim ran out) may
      // still be on their way: they must carry the same webhook-id, so give them a moment.
      await sleep(500);
      const finalReads = new Map<string, string>();
      for (let round = 0; round < 2; round++) {
        for (const job of jobs) {
          const sentAt = Date.now();
          const res = await call("GET", `/v1/responses/${job.id}`);
          reads.push({ id: job.id, status: res.body.status, sentAt, at: Date.now() });
          finalReads.set(job.id, res.body.status);
        }
      }
      jobs = await allJobs(store, tenant.id);

      // ---- the invariants ----
      // No job lost and none doubled: exactly one job per Idempotency-Key, and nothing else.
      expect(accepted.size).toBe(JOBS);
      expect(new Set(accepted.values()).size).toBe(JOBS);
      expect(jobs.map((j) => j.id).sort()).toEqual([...accepted.values()].sort());
      expect(checkAllTerminal(jobs, finalReads)).toEqual([]);
      expect(checkStatusHistory(reads)).toEqual([]);
      const upstream = checkUpstreamCreates(sim, jobs);
      expect(upstream.violations).toEqual([]);
      expect(checkWebhooks(receiver.received, jobs)).toEqual([]);
      // The kills did land mid-flight (otherwise this drill proves nothing).
      expect(kills.filter((k) => k.unfinished > 0).length).toBe(KILLS);
      expect(relay.starts).toBe(KILLS + 1);

      const count = (pred: (j: (typeof jobs)[number]) => boolean) => jobs.filter(pred).length;
      const interrupted = count((j) => j.endReason?.code === "upstream_create_interrupted");
      const duplicates = receiver.received.length - jobs.length;
      console.log(
        `[drill sigkill] ${KILLS} kills: ${kills.map((k) => `${k.phase} at ${(k.atWallMs / 1000).toFixed(1)} s (${k.accepted} accepted, ${k.unfinished} unfinished)`).join(", ")}; ` +
          `outcomes: ${["completed", "failed", "cancelled", "incomplete"].map((s) => `${s} ${count((j) => j.status === s)}`).join(", ")}; ` +
          `upstream_create_interrupted ${interrupted} (upstream responses created but never recorded: ${upstream.unrecorded.length}); ` +
          `cancels answered ${cancels.join("/")}; ${sim.stats().createdIds.length} upstream creates; ${receiver.received.length} webhook requests (${duplicates} repeats, same webhook-id); ` +
          `${reads.length} status reads; wall ${((Date.now() - wallStarted) / 1000).toFixed(1)} s`,
      );
    },
    BUDGET_MS + 20_000,
  );
});
