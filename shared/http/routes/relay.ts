import { Hono } from "hono";
import { effectiveLimits, fromMicros, monthOf } from "#shared/domain/tenant-limits.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import type { AuthEnv } from "#shared/http/auth.ts";
import { echo } from "#shared/http/params.ts";

/**
 * The relay's own endpoints (not OpenAI's), under /v1/relay. `GET /v1/relay/spend[?month=YYYY-MM]`:
 * the caller's recorded spend in a month (UTC; the current one by default) and its limits.
 */
export function relayRoutes(deps: Deps) {
  const app = new Hono<AuthEnv>();

  app.get("/spend", async (c) => {
    const tenant = c.get("tenant");
    const raw = c.req.query("month");
    const current = monthOf(deps.clock.now());
    if (raw !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(raw))
      throw new InvalidRequestError(`Invalid 'month': expected YYYY-MM (e.g. '${current}'), got '${echo(raw)}'.`, {
        param: "month",
        code: "invalid_value",
      });
    const month = raw ?? current;
    const spend = await deps.quotas.spend(tenant.id, month);
    const limits = effectiveLimits(tenant.limits);
    const cost = fromMicros(spend.costMicros);
    return c.json({
      object: "relay.spend",
      month,
      cost_usd: cost,
      priced_jobs: spend.pricedJobs,
      // Ended with usage on a model the relay has no price for: not in cost_usd, never as $0.
      unpriced_jobs: spend.unpricedJobs,
      unpriced_usage: { input_tokens: spend.unpricedInputTokens, output_tokens: spend.unpricedOutputTokens },
      monthly_limit_usd: limits.monthlySpendUsd,
      remaining_usd:
        limits.monthlySpendUsd === null || month !== current
          ? null
          : Math.max(0, Math.round((limits.monthlySpendUsd - cost) * 1_000_000) / 1_000_000),
      limits: {
        requests_per_minute: limits.requestsPerMinute,
        pending_jobs: limits.pendingJobs,
        streams: limits.streams,
        blocking_waits: limits.blockingWaits,
      },
    });
  });

  return app;
}
