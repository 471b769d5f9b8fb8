import { endpointOf, PROBE_EVERY_MS, type EndpointHealth } from "#shared/domain/endpoint-health.ts";
import { isTerminal, type Delivery, type Job } from "#shared/domain/job.ts";
import { toResponseObject } from "#shared/domain/response-view.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import { METRIC_WEBHOOKS_EXHAUSTED } from "#shared/metrics.ts";
import type { Deps } from "#shared/ports.ts";
import { eventBody } from "#shared/webhooks/event-payload.ts";
import { nextRetryDelayMs } from "#shared/webhooks/retry-schedule.ts";
import { signedHeaders } from "#shared/webhooks/signing.ts";
import { retryOnConflict } from "./conflict-retry.ts";
import { transition, type Step } from "./job-transitions.ts";

/** How long a claimed attempt may take before another poller may try again (send timeout + slack). */
export const ATTEMPT_CLAIM_MS = 75_000;

/**
 * One attempt at the job's final webhook. The attempt is claimed first with a fenced write, so two
 * pollers never send the same attempt; a crash after the claim only delays a retry (at least once,
 * always the same webhook-id). Signing uses the wall clock: receivers compare `webhook-timestamp`
 * with their own clock.
 *
 * The endpoint's circuit breaker comes first: to a failing endpoint one attempt goes out per
 * PROBE_EVERY_MS (the others wait without a write or a spent attempt), to a disabled one none
 * (the job's delivery is marked `disabled`). `manual` (a redelivery) skips the spacing.
 */
export async function deliverWebhook(job: Job, deps: Deps, options: { manual?: boolean } = {}): Promise<Step> {
  const delivery = job.delivery;
  if (!delivery || !job.webhook || (delivery.state !== "pending" && delivery.state !== "sending"))
    return { job, nextAt: null };
  const now = deps.clock.now();
  if (delivery.nextAttemptAt !== null && delivery.nextAttemptAt > now) return { job, nextAt: delivery.nextAttemptAt };
  const endpoint = endpointOf(job.webhook.url);
  // Everything the send needs is read at once, before the claim: none of it depends on the claim
  // (the blobs a job points at never change after its end), and each round trip here is lag.
  const [health, tenant, output, request] = await Promise.all([
    deps.endpoints.get(endpoint),
    deps.tenants.getTenant(job.tenantId),
    deps.jobs.getOutput(job),
    deps.jobs.getRequest(job),
  ]);
  if (health?.state === "disabled") return disable(job, health, deps);
  if (health?.state === "failing" && !options.manual) {
    const probeAt = health.nextProbeAt ?? 0;
    if (probeAt > now) return { job, nextAt: probeAt };
    if (!(await deps.endpoints.claimProbe(endpoint, now, now + PROBE_EVERY_MS)))
      return { job, nextAt: now + PROBE_EVERY_MS };
  }

  const attempt = delivery.attempts + 1;
  const claimedUntil = now + ATTEMPT_CLAIM_MS;
  const claimed = await transition(
    job,
    {
      type: "delivery",
      delivery: { ...delivery, state: "sending", attempts: attempt, nextAttemptAt: claimedUntil },
      dueAt: claimedUntil,
    },
    deps,
  );

  if (!tenant)
    return settle(
      claimed,
      { ...claimed.delivery!, state: "exhausted", lastError: "tenant no longer exists", nextAttemptAt: null },
      deps,
    );
  // The payload is built from the job as it ended (no per-attempt delivery state), so every retry
  // carries the same body.
  const body = eventBody(
    delivery.eventType,
    job,
    toResponseObject({ ...job, delivery: null }, output, request, deps.settings.publicBaseUrl),
    job.completedAt ?? now,
  );
  const headers = signedHeaders(delivery.webhookId, body, tenant.webhookSecrets, new Date());
  const result = await deps.webhooks.send({ url: job.webhook.url, headers, body });

  const after = deps.clock.now();
  const ok = result.status !== null && result.status >= 200 && result.status < 300;
  // 410 is an answer too: the receiver is alive and said what it wants.
  const answered = ok || result.status === 410;
  const healthAfter = answered
    ? await deps.endpoints.recordSuccess(endpoint).then(() => null)
    : await deps.endpoints.recordFailure(endpoint, result.error, after);
  let next: Delivery;
  if (ok)
    next = {
      ...claimed.delivery!,
      state: "delivered",
      deliveredAt: after,
      nextAttemptAt: null,
      lastStatus: result.status,
      lastError: null,
    };
  else if (result.status === 410)
    next = {
      ...claimed.delivery!,
      state: "gone",
      nextAttemptAt: null,
      lastStatus: 410,
      lastError: "the receiver answered 410 Gone; no more retries",
    };
  else if (healthAfter?.state === "disabled")
    next = {
      ...claimed.delivery!,
      state: "disabled",
      nextAttemptAt: null,
      lastStatus: result.status,
      lastError: disabledMessage(healthAfter, job),
    };
  else {
    const delay = nextRetryDelayMs(attempt - delivery.roundStart, result.retryAfterMs);
    next = {
      ...claimed.delivery!,
      state: delay === null ? "exhausted" : "pending",
      nextAttemptAt: delay === null ? null : after + delay,
      lastStatus: result.status,
      lastError: result.error,
    };
    if (delay === null) deps.metrics.emit(METRIC_WEBHOOKS_EXHAUSTED, 1, "Count");
  }
  await deps.deliveries.record(job.id, {
    attempt,
    webhookId: delivery.webhookId,
    eventType: delivery.eventType,
    url: job.webhook.url,
    at: now,
    status: result.status,
    latencyMs: result.latencyMs,
    error: result.error,
    nextRetryAt: next.nextAttemptAt,
    manual: delivery.roundStart > 0 && attempt === delivery.roundStart + 1,
  });
  return settle(claimed, next, deps);
}

function disabledMessage(health: EndpointHealth, job: Job): string {
  const since = health.failingSince === null ? "days" : new Date(health.failingSince).toISOString();
  return `The endpoint ${health.endpoint} has failed every attempt since ${since} and is disabled: nothing is sent to it. POST /v1/responses/${job.id}/deliveries/redeliver re-enables it.`;
}

/**
 * The endpoint is disabled: no attempt goes out. The job's delivery says so (in its status and
 * its delivery log, as an attempt that was not sent), and leaves the poller's work.
 */
async function disable(job: Job, health: EndpointHealth, deps: Deps): Promise<Step> {
  const delivery = job.delivery!;
  const now = deps.clock.now();
  const attempt = delivery.attempts + 1;
  const message = disabledMessage(health, job);
  const next: Delivery = { ...delivery, state: "disabled", attempts: attempt, nextAttemptAt: null, lastError: message };
  // No attempt was claimed (nothing is sent), so this is its own fenced write, not settle()'s.
  const settled = { job: await transition(job, { type: "delivery", delivery: next, dueAt: null }, deps), nextAt: null };
  await deps.deliveries.record(job.id, {
    attempt,
    webhookId: delivery.webhookId,
    eventType: delivery.eventType,
    url: job.webhook!.url,
    at: now,
    status: null,
    latencyMs: 0,
    error: `not sent: ${message}`,
    nextRetryAt: null,
    manual: false,
  });
  return settled;
}

/**
 * Records an attempt's outcome. If the job was written meanwhile (an owed cancel settled, say),
 * the outcome still belongs to it as long as no later attempt was claimed: re-read and apply.
 * An owed upstream cancel keeps its own, shorter schedule in the index.
 */
async function settle(claimed: Job, next: Delivery, deps: Deps): Promise<Step> {
  return retryOnConflict(
    claimed,
    deps,
    async (job) => {
      // A later attempt was claimed meanwhile: this outcome is no longer the job's to record.
      if (job.delivery?.attempts !== next.attempts) return { job, nextAt: null };
      const updated = await transition(job, { type: "delivery", delivery: next, dueAt: next.nextAttemptAt }, deps);
      return { job: updated, nextAt: next.nextAttemptAt };
    },
    { onGone: () => ({ job: claimed, nextAt: null }) },
  );
}

/**
 * "Send the final event again": a new round of attempts with the same webhook-id, the first one
 * right now (the caller waits for its outcome). It also turns the endpoint's breaker back on: the
 * caller says the receiver is fixed, so a disabled endpoint is enabled and failures forgotten.
 */
export async function redeliverWebhook(job: Job, deps: Deps): Promise<Job> {
  let reenabled = false;
  // A poller touching the job at the same moment makes a conflict: look again (it may have sent it).
  return retryOnConflict(
    job,
    deps,
    async (current) => {
      if (!current.webhook)
        throw new InvalidRequestError("This job has no webhook to deliver.", { param: "webhook", code: "no_webhook" });
      if (!isTerminal(current.status))
        throw new InvalidRequestError("The job has not ended yet; its webhook is sent when it does.", {
          code: "nothing_to_deliver",
        });
      if (!current.delivery)
        throw new InvalidRequestError(`This job ended ${current.status}, which is not among the webhook's events.`, {
          code: "nothing_to_deliver",
        });
      if (!reenabled) {
        await deps.endpoints.reset(endpointOf(current.webhook.url));
        reenabled = true;
      }
      const now = deps.clock.now();
      const delivery: Delivery = {
        ...current.delivery,
        state: "pending",
        roundStart: current.delivery.attempts,
        nextAttemptAt: now,
      };
      const reset = await transition(current, { type: "delivery", delivery, dueAt: now }, deps);
      return (await deliverWebhook(reset, deps, { manual: true })).job;
    },
    { tries: 3, onGone: () => job },
  );
}
