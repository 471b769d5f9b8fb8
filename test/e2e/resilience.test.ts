import { afterEach, describe, expect, it } from "vitest";
import { outputText } from "#shared/domain/response-view.ts";
import { TERMINAL_STATUSES, type Job } from "#shared/domain/job.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { recordTransitions } from "#test/support/transitions.ts";

let relay: RelayHarness | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

const TERMINAL: readonly string[] = [...TERMINAL_STATUSES];

async function submitMany(
  h: RelayHarness,
  n: number,
  body: (i: number) => Record<string, unknown> = (i) => ({ model: "gpt-5-pro", input: `job ${i}` }),
) {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await h.call("POST", "/v1/responses", { background: true, ...body(i) });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  return ids;
}

async function allTerminal(h: RelayHarness, ids: string[]) {
  const jobs = await Promise.all(ids.map((id) => h.deps.jobs.get(id)));
  return jobs.every((job) => job && TERMINAL.includes(job.status));
}

describe("upstream storms", () => {
  it("gets every job to completed through 429 and 5xx storms, honouring Retry-After", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 5000 } });
    const h = relay;
    const ids = await submitMany(h, 12);
    h.sim.injectFault({ op: "retrieve", status: 429, retryAfterSeconds: 20, times: 40 });
    h.sim.injectFault({ op: "retrieve", status: 503, times: 40, probability: 0.5 });
    h.sim.injectFault({ op: "retrieve", status: 500, times: Infinity, probability: 0.3 });
    await h.runUntil(() => allTerminal(h, ids), { maxSteps: 600 });
    for (const id of ids) {
      const job = (await h.call("GET", `/v1/responses/${id}`)).body;
      expect(job.status).toBe("completed");
      expect(outputText(job.output).length).toBeGreaterThan(0);
    }
    h.sim.clearFaults();
    // Many injected-time polls of 12 jobs: on a loaded 2-core machine this takes well over 30 s.
  }, 120_000);

  it("waits at least the upstream's Retry-After before polling that job again", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 600_000 } });
    const h = relay;
    await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "throttled" });
    h.clock.advance(2000);
    await h.poller.tick();
    h.sim.injectFault({ op: "retrieve", status: 429, retryAfterSeconds: 30, times: 1 });
    // Find the poll that hits the 429, then watch when the next one comes.
    const retrieves = () => h.sim.stats().ops.retrieve;
    let throttledAt = 0;
    for (let i = 0; i < 60 && !throttledAt; i++) {
      const before = h.sim.stats().faultsApplied;
      h.clock.advance(1000);
      await h.poller.tick();
      if (h.sim.stats().faultsApplied > before) throttledAt = h.clock.now();
    }
    expect(throttledAt).toBeGreaterThan(0);
    const count = retrieves();
    let nextAt = 0;
    for (let i = 0; i < 60 && !nextAt; i++) {
      h.clock.advance(1000);
      await h.poller.tick();
      if (retrieves() > count) nextAt = h.clock.now();
    }
    expect(nextAt - throttledAt).toBeGreaterThanOrEqual(30_000);
    expect(nextAt - throttledAt).toBeLessThan(40_000);
  });

  it("keeps a job pending, not failed, while the upstream is down, and creates it once it is back", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 2000 } });
    const h = relay;
    h.sim.injectFault({ op: "create", status: 503, times: Infinity });
    const res = await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "patience" });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("queued");
    expect(res.body.relay.upstream_id).toBeNull();
    expect(res.body.relay.last_upstream_error).toMatch(/503/);
    for (let i = 0; i < 60; i++) {
      h.clock.advance(5000);
      await h.poller.tick();
    }
    expect((await h.call("GET", `/v1/responses/${res.body.id}`)).body.status).toBe("queued");
    h.sim.clearFaults();
    const done = await h.settle(res.body.id);
    expect(done.status).toBe("completed");
    expect(h.sim.stats().createdIds).toHaveLength(1);
  });

  it("fails a job at once on a permanent upstream error while polling", async () => {
    relay = await startRelay();
    const h = relay;
    const res = await h.call("POST", "/v1/responses", { background: true, model: "gpt-5-pro", input: "vanishes" });
    // The upstream forgets the response (deleted, or past retention): its GET answers 404.
    const upstreamId = res.body.relay.upstream_id;
    const deleted = await fetch(`${h.sim.url}/responses/${upstreamId}`, {
      method: "DELETE",
      headers: { authorization: "Bearer sk-simulator" },
    });
    expect(deleted.status).toBe(200);
    const done = await h.settle(res.body.id);
    expect(done.status).toBe("failed");
    expect(done.error.message).toBe(`Response with id '${upstreamId}' not found.`);
  });
});

describe("concurrent pollers", () => {
  it("three pollers at once never double a transition, with a third of upstream calls failing", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 1500, runMs: 4000 } });
    const h = relay;
    const transitions = recordTransitions(h.deps.jobs);
    const ids = await submitMany(h, 30, (i) => ({
      model: "gpt-5-pro",
      input: `p${i}`,
      metadata: i % 5 === 0 ? { sim_outcome: "failed" } : {},
    }));
    h.sim.injectFault({ op: "retrieve", status: 429, retryAfterSeconds: 1, times: Infinity, probability: 0.17 });
    h.sim.injectFault({ op: "retrieve", status: 502, times: Infinity, probability: 0.2 });
    // Short leases so the pollers keep trading shards, as overlapping invocations would.
    const pollers = [h.newPoller({ leaseMs: 3000 }), h.newPoller({ leaseMs: 3000 }), h.newPoller({ leaseMs: 3000 })];
    await h.runUntil(() => allTerminal(h, ids), { pollers, maxSteps: 600 });
    h.sim.clearFaults();
    for (const id of ids) {
      const forJob = transitions.filter((t) => t.jobId === id);
      const targets = forJob.map((t) => t.to);
      expect(new Set(targets).size, `transitions of ${id}: ${targets.join(",")}`).toBe(targets.length);
      expect(forJob.filter((t) => TERMINAL.includes(t.to))).toHaveLength(1);
    }
    expect(new Set(h.sim.stats().createdIds).size).toBe(30);
    expect(h.sim.stats().createdIds).toHaveLength(30);
    await Promise.all(pollers.map((p) => p.releaseAll()));
  });

  it("lets a second poller take over a dead poller's shards after the lease", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 60_000 } });
    const h = relay;
    const ids = await submitMany(h, 6);
    const dead = h.newPoller({ leaseMs: 10_000 });
    h.clock.advance(1000);
    await dead.tick(); // takes every shard, then "crashes" (never ticks or releases again)
    const heir = h.newPoller({ leaseMs: 10_000 });
    await heir.tick();
    expect((await heir.tick()).ownedShards).toBe(0);
    await h.runUntil(() => allTerminal(h, ids), { pollers: [heir], stepMs: 2000, maxSteps: 200 });
    expect((await heir.tick()).ownedShards).toBe(h.deps.jobs.shards);
  });
});

/** A crash: the process stops at this point, so nothing after it runs. */
class Crash extends Error {}

describe("a crash between two steps loses no job and never creates twice", () => {
  /**
   * Stops "the process" at the first job write matching `when`: before the write, or just after it
   * (the write is stored, nothing after it runs).
   */
  const crashOnce = (h: RelayHarness, at: "before" | "after", when: (changes: Partial<Job>) => boolean) => {
    const store = h.deps.jobs;
    const original = store.update.bind(store);
    const state = { crashed: false };
    store.update = async (job: Job, changes: Partial<Job>, dueAt?: number | null) => {
      const hit = !state.crashed && when(changes);
      if (hit) state.crashed = true;
      if (hit && at === "before") throw new Crash("stopped before a write");
      const written = await original(job, changes, dueAt);
      if (hit) throw new Crash("stopped after a write");
      return written;
    };
    return state;
  };

  it.each([
    {
      where: "after the intent, before the create is marked sent",
      at: "before",
      when: (c: Partial<Job>) => c.createState === "sent",
      outcome: "completed",
      creates: 1,
    },
    {
      where: "after marking it sent, before the upstream call",
      at: "after",
      when: (c: Partial<Job>) => c.createState === "sent",
      outcome: "failed",
      creates: 0,
    },
    {
      where: "after the upstream create, before recording its id",
      at: "before",
      when: (c: Partial<Job>) => c.createState === "done",
      outcome: "failed",
      creates: 1,
    },
  ] as const)("$where: ends $outcome with $creates upstream create(s)", async ({ at, when, outcome, creates }) => {
    relay = await startRelay();
    const h = relay;
    const crash = crashOnce(h, at, when);
    const res = await h.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "crash in submit",
    });
    expect(crash.crashed).toBe(true);
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toContain("stopped");
    const [job] = (await h.call("GET", "/v1/responses")).body.data;
    expect(job.status).toBe("queued");
    // a fresh poller, as after a restart
    const done = await h.settle(job.id, { stepMs: 5000, pollers: [h.newPoller()] });
    expect(done.status).toBe(outcome);
    if (outcome === "failed") expect(done.relay.reason.code).toBe("upstream_create_interrupted");
    else expect(outputText(done.output).length).toBeGreaterThan(0);
    expect(h.sim.stats().createdIds).toHaveLength(creates);
  });

  it("between storing the output and recording the end: the next poll finishes it, output intact", async () => {
    relay = await startRelay({ behaviour: { queuedMs: 500, runMs: 1000, outputBytes: 50_000 } });
    const h = relay;
    const res = await h.call("POST", "/v1/responses", {
      background: true,
      model: "gpt-5-pro",
      input: "crash at the end",
    });
    const crash = crashOnce(h, "before", (c) => c.status === "completed");
    const done = await h.settle(res.body.id, { pollers: [h.newPoller(), h.newPoller()] });
    expect(crash.crashed).toBe(true);
    expect(done.status).toBe("completed");
    expect(outputText(done.output)).toBe((h.sim.getResponse(done.relay.upstream_id) as any).output[0].content[0].text);
  });
});
