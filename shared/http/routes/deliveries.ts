import { Hono } from "hono";
import { toUnixSeconds } from "#shared/clock.ts";
import { endpointOf } from "#shared/domain/endpoint-health.ts";
import type { Deps } from "#shared/ports.ts";
import { redeliverWebhook } from "#shared/use-cases/deliver-webhook.ts";
import { getOwnedJob } from "#shared/use-cases/get-job.ts";
import type { AuthEnv } from "#shared/http/auth.ts";
import { jobIdParam } from "#shared/http/params.ts";

/** The webhook delivery log of a job, and "send it again". */
export function deliveriesRoutes(deps: Deps) {
  const app = new Hono<AuthEnv>();

  app.get("/:id/deliveries", async (c) => {
    const job = await getOwnedJob(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    const [attempts, health] = await Promise.all([
      deps.deliveries.list(job.id),
      job.webhook ? deps.endpoints.get(endpointOf(job.webhook.url)) : null,
    ]);
    const seconds = (ms: number | null | undefined) => (ms == null ? null : toUnixSeconds(ms));
    return c.json({
      object: "list",
      delivery: job.delivery
        ? {
            webhook_id: job.delivery.webhookId,
            event_type: job.delivery.eventType,
            state: job.delivery.state,
            attempts: job.delivery.attempts,
          }
        : null,
      // The receiver's origin as the circuit breaker sees it, across all jobs that point there.
      endpoint: job.webhook
        ? {
            origin: endpointOf(job.webhook.url),
            state: health?.state ?? "healthy",
            failures_in_a_row: health?.failures ?? 0,
            failing_since: seconds(health?.failingSince),
            next_probe_at: health?.state === "failing" ? seconds(health.nextProbeAt) : null,
            disabled_at: seconds(health?.disabledAt),
          }
        : null,
      data: attempts.map((a) => ({
        object: "webhook.attempt",
        attempt: a.attempt,
        webhook_id: a.webhookId,
        event_type: a.eventType,
        url: a.url,
        attempted_at: toUnixSeconds(a.at),
        status_code: a.status,
        latency_ms: a.latencyMs,
        error: a.error,
        next_retry_at: a.nextRetryAt === null ? null : toUnixSeconds(a.nextRetryAt),
        manual: a.manual,
      })),
    });
  });

  app.post("/:id/deliveries/redeliver", async (c) => {
    const job = await getOwnedJob(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    const after = await redeliverWebhook(job, deps);
    const d = after.delivery!;
    return c.json({
      webhook_id: d.webhookId,
      event_type: d.eventType,
      state: d.state,
      attempts: d.attempts,
      last_status: d.lastStatus,
      last_error: d.lastError,
    });
  });

  return app;
}
