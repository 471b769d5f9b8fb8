/**
 * When to try a webhook again: Svix's schedule (immediately, then 5 s, 5 min, 30 min, 2 h, 5 h,
 * 10 h, 10 h: eight attempts over about 27.5 hours), each delay ±20 % jitter, never sooner than the
 * receiver's Retry-After (capped at a day so a hostile header cannot park a delivery forever).
 */
const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
const MAX_RETRY_AFTER_MS = 86_400_000;

/** Delay after failed attempt number `attempt` (1-based), or null when attempts are exhausted. */
export function nextRetryDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  const base = RETRY_DELAYS_MS[attempt - 1];
  if (base === undefined) return null;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}
