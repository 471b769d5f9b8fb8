/**
 * How often to look at a pending job. Derived from how long its status has stayed the same
 * (`statusChangedAt`), so the schedule needs no per-poll writes. The cost: a poller that takes a
 * shard over does not know when each job was last polled, so it looks at each once at the start
 * (one extra GET per job per minute at most) and follows the derived interval from there.
 */
export interface PollPolicy {
  /** First interval after a change. */
  minMs: number;
  /** Cap while nothing changes. */
  maxMs: number;
  /** Fraction of the unchanged time to wait (0.2: after 50 s unchanged, wait 10 s). */
  growth: number;
}

const DEFAULT_POLL_POLICY: PollPolicy = { minMs: 1_000, maxMs: 20_000, growth: 0.2 };

/**
 * While OpenAI's verified webhooks are arriving, a poll only backs up a lost one: half the job's
 * age, from 2 to 5 minutes. A 5-minute job is polled twice, a 30-minute one about eight times,
 * and a lost webhook costs at most 5 minutes of lag, never the job.
 */
const PUSH_BACKSTOP_POLICY: PollPolicy = { minMs: 120_000, maxMs: 300_000, growth: 0.5 };

export function backstopIntervalMs(ageMs: number): number {
  return pollIntervalMs(ageMs, PUSH_BACKSTOP_POLICY);
}

export function pollIntervalMs(unchangedForMs: number, policy: PollPolicy = DEFAULT_POLL_POLICY): number {
  return Math.min(policy.maxMs, Math.max(policy.minMs, Math.round(unchangedForMs * policy.growth)));
}

/**
 * Backoff for transient upstream faults: exponential from 1 s, capped, with ±20 % jitter, and
 * never sooner than the upstream's Retry-After.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1_000 * 2 ** Math.max(0, attempt - 1));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.max(jittered, retryAfterMs ?? 0));
}
