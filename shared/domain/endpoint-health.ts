/**
 * The circuit breaker over one webhook endpoint (a receiver's origin: scheme, host and port). One
 * caller's dead receiver must cost the relay little and nobody else anything: after sustained
 * failure its attempts are spaced out, and after days of it the endpoint is disabled until a
 * redelivery turns it back on (docs/decisions/0009-delivery-lanes.md).
 */

export type EndpointState = "healthy" | "failing" | "disabled";

export interface EndpointHealth {
  endpoint: string;
  state: EndpointState;
  /** Failed attempts in a row (any job, any tenant that points there). */
  failures: number;
  /** The first failure of the current run: how long the endpoint has been failing. */
  failingSince: number | null;
  lastFailureAt: number | null;
  lastError: string | null;
  /** While failing: no attempt starts before this (one probe at a time). */
  nextProbeAt: number | null;
  disabledAt: number | null;
}

/** "Sustained": this many failed attempts in a row, spread over at least FAILING_AFTER_MS. */
const FAILING_AFTER_FAILURES = 5;
const FAILING_AFTER_MS = 2 * 60_000;
/** While failing, one attempt per endpoint per this long (the rest wait, their schedules untouched). */
export const PROBE_EVERY_MS = 60_000;
/** Failing without a single success for this long: disabled. */
const DISABLE_AFTER_MS = 3 * 86_400_000;

/** The state an endpoint reaches after a failed attempt, given its counters (already counting it). */
export function stateAfterFailure(
  health: Pick<EndpointHealth, "state" | "failures" | "failingSince">,
  nowMs: number,
): EndpointState {
  if (health.state === "disabled") return "disabled";
  const since = health.failingSince ?? nowMs;
  if (health.failures < FAILING_AFTER_FAILURES || nowMs - since < FAILING_AFTER_MS) return "healthy";
  return nowMs - since >= DISABLE_AFTER_MS ? "disabled" : "failing";
}

/** Where deliveries to a URL are counted and limited: its origin (`https://hooks.example.com:8443`). */
export function endpointOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url.slice(0, 200);
  }
}
