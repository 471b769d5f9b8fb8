/**
 * What one tenant may use at once, stored on the tenant (`npm run keys -- limits`). The defaults
 * are sized so a single team never meets them (API Gateway's own stage throttle, 50 rps, binds
 * first); they exist so that on a shared relay no tenant can take everything.
 */
export interface TenantLimits {
  /** Authenticated API requests per minute (a fixed one-minute window). */
  requestsPerMinute: number;
  /** Jobs not yet ended (queued or in progress). */
  pendingJobs: number;
  /** Live SSE streams open at once. */
  streams: number;
  /** Blocking creates (no `background`, no `stream`) held open at once. */
  blockingWaits: number;
  /** Recorded cost per calendar month (UTC), checked at submit; null: no limit. */
  monthlySpendUsd: number | null;
}

const DEFAULT_TENANT_LIMITS: TenantLimits = {
  requestsPerMinute: 6_000,
  pendingJobs: 1_000,
  streams: 200,
  blockingWaits: 200,
  monthlySpendUsd: null,
};

/** Bounds of what can be set (the slot maps behind the counted limits must fit one DynamoDB item). */
export const LIMIT_BOUNDS: Record<Exclude<keyof TenantLimits, "monthlySpendUsd">, [number, number]> = {
  requestsPerMinute: [1, 1_000_000],
  pendingJobs: [1, 5_000],
  streams: [1, 2_000],
  blockingWaits: [1, 2_000],
};

export function effectiveLimits(stored: Partial<TenantLimits> | undefined): TenantLimits {
  return { ...DEFAULT_TENANT_LIMITS, ...(stored ?? {}) };
}

/** The counted limits, each a set of slots per tenant. */
export type SlotKind = "jobs" | "streams" | "waits";

/** The calendar month (UTC) spend is counted in: "2026-11". */
export function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** USD as integer micro-dollars, the unit spend is summed in (exact, unlike floats). */
export const toMicros = (usd: number): number => Math.round(usd * 1_000_000);
export const fromMicros = (micros: number): number => micros / 1_000_000;
