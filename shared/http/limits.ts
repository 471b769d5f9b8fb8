import type { MiddlewareHandler } from "hono";
import { effectiveLimits, type SlotKind } from "#shared/domain/tenant-limits.ts";
import { RateLimitedError } from "#shared/errors.ts";
import { randomHex } from "#shared/ids.ts";
import type { Deps, Tenant } from "#shared/ports.ts";
import type { AuthEnv } from "./auth.ts";

/** How long a held stream or wait slot lives without renewal: a crashed holder frees it by then. */
const SLOT_TTL_MS = 60_000;
const SLOT_RENEW_MS = 20_000;

/** OpenAI's duration format for `x-ratelimit-reset-*`: "250ms", "12s", "1m3s". */
function resetDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m${seconds % 60}s` : `${seconds}s`;
}

/**
 * The tenant's request rate, counted in DynamoDB so every instance (API Gateway's function, the
 * stream function URL, the local stack) draws on one budget; each instance takes its share in
 * batches of tokens, so most requests make no write (shared/store/request-tokens.ts). Every answer carries OpenAI's
 * `x-ratelimit-*-requests` headers; one over the limit is a 429 the SDKs read as RateLimitError.
 */
export function tenantRateLimit(deps: Deps): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const tenant = c.get("tenant");
    const limit = effectiveLimits(tenant.limits).requestsPerMinute;
    const now = deps.clock.now();
    const taken = await deps.quotas.takeRequest(tenant.id, limit, now);
    const headers = {
      "x-ratelimit-limit-requests": String(limit),
      "x-ratelimit-remaining-requests": String(taken.remaining),
      "x-ratelimit-reset-requests": resetDuration(taken.resetAtMs - now),
    };
    if (!taken.granted)
      throw new RateLimitedError(
        `Rate limit reached for requests per min (RPM) on this relay tenant: limit ${limit}. Please try again in ${resetDuration(taken.resetAtMs - now)}.`,
        { code: "rate_limit_exceeded", retryAfterSeconds: Math.ceil((taken.resetAtMs - now) / 1000), headers },
      );
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}

export interface SlotHold {
  release(): Promise<void>;
}

const SLOT_NAMES: Record<
  Exclude<SlotKind, "jobs">,
  { header: string; what: string; limit: "streams" | "blockingWaits" }
> = {
  streams: { header: "streams", what: "live streams open at once", limit: "streams" },
  waits: { header: "blocking-waits", what: "blocking creates held open at once", limit: "blockingWaits" },
};

/**
 * Holds one of the tenant's stream or blocking-wait slots for as long as the reply runs, renewed
 * while it does; over the limit, a 429 before anything else happens.
 */
export async function holdSlot(deps: Deps, tenant: Tenant, kind: "streams" | "waits"): Promise<SlotHold> {
  const names = SLOT_NAMES[kind];
  const limit = effectiveLimits(tenant.limits)[names.limit];
  const id = `${kind}_${randomHex(8)}`;
  const now = deps.clock.now();
  const grant = await deps.quotas.acquireSlot(tenant.id, kind, id, limit, now, now + SLOT_TTL_MS);
  if (!grant.granted)
    throw new RateLimitedError(
      `Too many ${names.what} for this relay tenant: limit ${limit}. Close one, or try again shortly.`,
      {
        code: kind === "streams" ? "too_many_streams" : "too_many_blocking_waits",
        retryAfterSeconds: 5,
        headers: {
          [`x-ratelimit-limit-${names.header}`]: String(limit),
          [`x-ratelimit-remaining-${names.header}`]: "0",
          [`x-ratelimit-reset-${names.header}`]: "5s",
        },
      },
    );
  const timer = setInterval(() => {
    void deps.quotas.renewSlot(tenant.id, kind, id, deps.clock.now() + SLOT_TTL_MS).catch(() => undefined);
  }, SLOT_RENEW_MS);
  timer.unref?.();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await deps.quotas.releaseSlot(tenant.id, kind, id).catch(() => undefined);
    },
  };
}
