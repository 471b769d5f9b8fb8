/**
 * How long one scheduled poller invocation may start work. EventBridge starts one a minute: the
 * window runs to the next start, so polling never pauses at the boundary (the next invocation
 * takes the shards as this one hands them back). Work is only *started* inside the window; a job
 * step started at its last moment still has MAX_STEP_MS to finish, and SAFETY_MS is left for
 * handing the leases back, so the invocation never reaches its timeout.
 */

/** The schedule's period. */
const MINUTE_MS = 60_000;
/**
 * The longest one job step can take: an upstream call at its 20 s timeout, a webhook send at its
 * 15 s timeout, and the DynamoDB and EventBridge writes around them.
 */
export const MAX_STEP_MS = 40_000;
/** Left unused at the end: releasing the shard leases, the last log lines. */
export const SAFETY_MS = 5_000;
/** The poller's Lambda timeout (the stack sets it): a full window plus one step plus the margin. */
export const POLLER_TIMEOUT_S = (MINUTE_MS + MAX_STEP_MS + SAFETY_MS) / 1000 + 15;

/** The start-work budget for an invocation with `remainingMs` left; 0 when not even one step fits. */
export function pollerWindowMs(remainingMs: number): number {
  return Math.max(0, Math.min(MINUTE_MS, remainingMs - MAX_STEP_MS - SAFETY_MS));
}
