/**
 * What the benchmark needs from the simulator beyond its public surface: the exact moment each
 * upstream response ends, and a per-request latency spread.
 */
import type { Simulator } from "#local/simulator/index.ts";
import { JobStore } from "#local/simulator/store.ts";
import type { Job as SimJob } from "#local/simulator/job.ts";

const seen = new Map<string, SimJob>();
let installed = false;

/**
 * Every response the simulator creates in this process, by id. The Response object only carries
 * second-resolution timestamps, and lag is measured in milliseconds, so the probe keeps the
 * simulator's own job objects (their `finishedAt` is the planned end, exact to the ms).
 * It wraps `JobStore.prototype.add` once; if the simulator's internals change, `finishedAtMs`
 * fails loudly rather than reporting wrong numbers.
 */
export function installSimProbe(): void {
  if (installed) return;
  installed = true;
  const add = JobStore.prototype.add;
  JobStore.prototype.add = function (this: JobStore, job: SimJob) {
    seen.set(job.id, job);
    return add.call(this, job);
  };
}

export function finishedAtMs(upstreamId: string): number {
  const job = seen.get(upstreamId);
  if (!job)
    throw new Error(
      `sim probe: response ${upstreamId} was not seen (is installSimProbe() called before the simulator starts?)`,
    );
  const at = job.finishedAt;
  if (typeof at !== "number" || !Number.isFinite(at))
    throw new Error(`sim probe: response ${upstreamId} has no finite finishedAt (simulator internals changed?)`);
  return at;
}

/**
 * Realistic upstream latency: a fixed floor plus probabilistic extra delays (the simulator's
 * `latencyMs` is one fixed value; delay-only faults with a probability add a spread). The result
 * is a mixture: ~45 % 40 ms, ~35 % 90 ms, ~17 % 190 ms, ~3 % 440 ms, for every operation.
 * Delay faults are counted in `stats().faultsApplied`; they change no reply.
 */
export const LATENCY_PROFILE = {
  baseMs: 40,
  extra: [
    { delayMs: 400, probability: 0.03 },
    { delayMs: 150, probability: 0.175 },
    { delayMs: 50, probability: 0.44 },
  ],
} as const;

export function applyLatencyProfile(sim: Simulator, profile = LATENCY_PROFILE): void {
  sim.configure({ latencyMs: profile.baseMs });
  for (const extra of profile.extra)
    sim.injectFault({ op: "any", delayMs: extra.delayMs, probability: extra.probability, times: Infinity });
}
