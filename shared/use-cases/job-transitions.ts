/**
 * The moves a job makes, shared by submit, the poller, cancel and OpenAI's webhook. Each move is
 * one conditional write fenced by the job's version; a lost race re-reads and lets the winner be.
 */
import {
  canTransition,
  isDeliveryActive,
  isJobStatus,
  isTerminal,
  needsAttention,
  type Delivery,
  type Job,
  type EndReason,
  type EndReasonCode,
  type JobError,
  type JobStatus,
  type ResponseUsage,
} from "#shared/domain/job.ts";
import { costUsd, modelInfo } from "#shared/domain/models.ts";
import { pollIntervalMs, retryDelayMs } from "#shared/domain/polling.ts";
import { upstreamBody } from "#shared/domain/upstream-request.ts";
import {
  asUpstreamFailure,
  UpstreamAuthError,
  UpstreamRejectedError,
  VersionConflictError,
  type UpstreamFailure,
} from "#shared/errors.ts";
import type { Deps, UpstreamResponse } from "#shared/ports.ts";

/** What the caller should do next with a job: look again at `nextAt`, or nothing (null). */
export interface Step {
  job: Job;
  nextAt: number | null;
  /** Set when the upstream refused the create for good (submit answers with it). */
  rejected?: UpstreamRejectedError | UpstreamAuthError;
}

/**
 * Every job write goes through here: the conditional update. Lifecycle events are not published
 * here: the table's change stream is their outbox (shared/events/lifecycle-outbox.ts), so a crash
 * right after the write cannot lose one.
 */
export async function updateJob(
  job: Job,
  changes: Partial<Job>,
  dueAt: number | null | undefined,
  deps: Deps,
): Promise<Job> {
  const next = await deps.jobs.update(job, { ...changes, updatedAt: deps.clock.now() }, dueAt);
  return next;
}

/**
 * Marks the create as sent, sends it, and records the upstream id (or the failure). Submit passes
 * the caller's request it just stored; the poller (recovering a pending create) reads it back.
 * `stream`: create the upstream response streaming (a caller is about to watch it live).
 */
export async function sendCreate(
  job: Job,
  deps: Deps,
  options: { request?: Record<string, unknown>; stream?: boolean } = {},
): Promise<Step> {
  const now = deps.clock.now();
  let claimed: Job;
  try {
    claimed = await updateJob(
      job,
      { createState: "sent", createSentAt: now, createAttempts: job.createAttempts + 1 },
      now + deps.settings.createGraceMs,
      deps,
    );
  } catch (error) {
    if (error instanceof VersionConflictError) return reread(job, deps);
    throw error;
  }
  const request = options.request ?? (await deps.jobs.getRequest(claimed));
  const body = upstreamBody(request, claimed, { stream: options.stream === true });
  let response: UpstreamResponse;
  try {
    response = await deps.upstream.create(body, { jobId: claimed.id });
  } catch (error) {
    return createFailed(claimed, asUpstreamFailure(error), deps);
  }
  try {
    return await applyUpstream(claimed, response, deps, {
      upstreamId: response.id,
      createState: "done",
      createSentAt: null,
    });
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    return recordLateCreate(job.id, response, deps);
  }
}

/**
 * The job changed while its create was in flight (a cancel, most likely). The upstream response
 * exists now and must not run on unwatched: record its id, and if the job has already ended, stop
 * it upstream, or owe that cancel when the upstream cannot take it now.
 */
async function recordLateCreate(jobId: string, response: UpstreamResponse, deps: Deps): Promise<Step> {
  for (let attempt = 0; ; attempt++) {
    const current = await deps.jobs.get(jobId);
    if (!current) return { job: current!, nextAt: null };
    if (current.upstreamId) return { job: current, nextAt: needsAttention(current) ? deps.clock.now() : null };
    const ended = isTerminal(current.status);
    let owesCancel = false;
    if (ended && !isTerminal(response.status as JobStatus)) {
      owesCancel = await deps.upstream.cancel(response.id).then(
        () => false,
        (error) => !(asUpstreamFailure(error) instanceof UpstreamRejectedError),
      );
    }
    const now = deps.clock.now();
    const changes: Partial<Job> = {
      upstreamId: response.id,
      createState: "done",
      createSentAt: null,
      ...(owesCancel ? { upstreamCancelPending: true } : {}),
    };
    try {
      const recorded = await updateJob(
        current,
        changes,
        !ended || owesCancel || isDeliveryActive(current.delivery) ? now : null,
        deps,
      );
      return { job: recorded, nextAt: needsAttention(recorded) ? now : null };
    } catch (error) {
      if (!(error instanceof VersionConflictError) || attempt >= 4) throw error;
    }
  }
}

async function createFailed(job: Job, error: UpstreamFailure, deps: Deps): Promise<Step> {
  const now = deps.clock.now();
  if (error instanceof UpstreamRejectedError || error instanceof UpstreamAuthError) {
    const failed = await finishLocally(job, "failed", deps, rejectedEnd(error));
    return { job: failed, nextAt: null, rejected: error };
  }
  if (error.ambiguous) {
    // The request may have reached the upstream. Sending it again could start a second billed
    // response, so the job ends here with a clear reason instead.
    return { job: await failInterrupted(job, deps, error.message), nextAt: null };
  }
  const nextAt = now + retryDelayMs(job.createAttempts + 1, error.retryAfterMs);
  const pending = await updateJob(
    job,
    { createState: "pending", createSentAt: null, lastUpstreamError: error.message },
    nextAt,
    deps,
  );
  return { job: pending, nextAt };
}

export async function failInterrupted(job: Job, deps: Deps, detail?: string): Promise<Job> {
  const message =
    "The upstream create was interrupted before the relay learned its outcome" +
    (detail ? ` (${detail})` : "") +
    ". It was not sent again, so that the request can never run (and bill) twice. Submit it again.";
  return finishLocally(job, "failed", deps, {
    error: { code: "server_error", message },
    endReason: { code: "upstream_create_interrupted", message },
  });
}

/**
 * Applies what the upstream says about a job. No write when nothing changed (writes grow with
 * status changes, not with polls). `extra` rides along on the write when there is one, and forces it.
 */
export async function applyUpstream(
  job: Job,
  response: UpstreamResponse,
  deps: Deps,
  extra: Partial<Job> = {},
): Promise<Step> {
  const now = deps.clock.now();
  const status = isJobStatus(response.status) ? response.status : job.status;
  if (isTerminal(status)) return { job: await finishWithResponse(job, status, response, deps, extra), nextAt: null };
  const changed = status !== job.status;
  // Nothing new (and no stale trouble note to clear): no write.
  if (!changed && Object.keys(extra).length === 0 && job.lastUpstreamError === null) {
    const unchangedFor = now - job.statusChangedAt;
    return { job, nextAt: now + pollIntervalMs(unchangedFor) };
  }
  if (changed && !canTransition(job.status, status)) return { job, nextAt: now + pollIntervalMs(0) };
  const nextAt = now + pollIntervalMs(changed ? 0 : now - job.statusChangedAt);
  const updated = await updateJob(
    job,
    {
      ...extra,
      status,
      upstreamStatus: response.status,
      lastUpstreamError: null,
      ...(changed ? { statusChangedAt: now } : {}),
    },
    nextAt,
    deps,
  );
  return { job: updated, nextAt };
}

/** Stores the upstream's final Response, then records the terminal state that points at it. */
export async function finishWithResponse(
  job: Job,
  status: JobStatus,
  response: UpstreamResponse,
  deps: Deps,
  extra: Partial<Job> = {},
): Promise<Job> {
  const now = deps.clock.now();
  const output = await deps.jobs.putOutput(job.id, response, now);
  const usage = (response.usage as ResponseUsage | null | undefined) ?? null;
  const completedAtSec = typeof response.completed_at === "number" ? response.completed_at : null;
  return finishLocally(job, status, deps, {
    ...extra,
    upstreamStatus: response.status,
    output,
    usage,
    costUsd: costUsd(usage, deps.models.route(job.model) ?? modelInfo(job.model)),
    completedAt: completedAtSec !== null ? Math.round(completedAtSec * 1000) : now,
    error: (response.error as JobError | null | undefined) ?? null,
    incompleteDetails: (response.incomplete_details as { reason: string } | null | undefined) ?? null,
  });
}

/**
 * The terminal write. In the same write it schedules the final webhook (if the caller asked for
 * this event), so a crash right after can lose no delivery. The job leaves the due index unless a
 * webhook or an upstream cancel is still owed.
 */
export async function finishLocally(job: Job, status: JobStatus, deps: Deps, changes: Partial<Job> = {}): Promise<Job> {
  if (!canTransition(job.status, status))
    throw new VersionConflictError(`job ${job.id} cannot move from ${job.status} to ${status}`);
  const now = deps.clock.now();
  const owesCancel = changes.upstreamCancelPending ?? false;
  const delivery = firstDelivery(job, status);
  const dueAt = delivery ? now : owesCancel ? now + retryDelayMs(1, null) : null;
  return updateJob(
    job,
    {
      completedAt: now,
      lastUpstreamError: null,
      ...changes,
      status,
      statusChangedAt: now,
      upstreamCancelPending: owesCancel,
      delivery,
    },
    dueAt,
    deps,
  );
}

/** The caller's webhook for this end state, or null when there is none or it is not subscribed. */
function firstDelivery(job: Job, status: JobStatus): Delivery | null {
  const eventType = `response.${status}`;
  if (!job.webhook || (job.webhook.events && !job.webhook.events.includes(eventType))) return null;
  return {
    // One id per job's final event: every retry and redelivery carries the same one.
    webhookId: `msg_${job.id.slice("resp_".length)}`,
    eventType,
    state: "pending",
    attempts: 0,
    roundStart: 0,
    nextAttemptAt: null,
    lastStatus: null,
    lastError: null,
    deliveredAt: null,
  };
}

/**
 * Stops the upstream response and ends the job `cancelled` (by the caller when `reason` is null, else
 * by the relay for that reason). If the upstream
 * had already finished, the job takes the upstream's terminal status instead: that is the truth.
 * A cancel the upstream could not take now is owed: the job is settled locally and the poller
 * keeps telling the upstream.
 */
export async function stopUpstream(job: Job, deps: Deps, reason: EndReason | null): Promise<Job> {
  if (!job.upstreamId) return finishLocally(job, "cancelled", deps, { endReason: reason });
  try {
    const response = await deps.upstream.cancel(job.upstreamId);
    const upstreamStatus = response.status as JobStatus;
    const upstreamEnded = upstreamStatus !== "cancelled" && isTerminal(upstreamStatus);
    const finalStatus = upstreamEnded ? upstreamStatus : "cancelled";
    return finishWithResponse(job, finalStatus, response, deps, upstreamEnded ? {} : { endReason: reason });
  } catch (caught) {
    const classified = asUpstreamFailure(caught);
    if (classified instanceof UpstreamRejectedError)
      return finishLocally(job, "cancelled", deps, { endReason: reason });
    return finishLocally(job, "cancelled", deps, {
      endReason: reason,
      upstreamCancelPending: true,
      lastUpstreamError: classified.message,
    });
  }
}

/**
 * A job the upstream refused for good (a create, or a response it no longer knows): `failed`
 * with OpenAI's generic code, the upstream's own words under the relay's reason.
 */
export function rejectedEnd(
  error: UpstreamRejectedError | UpstreamAuthError,
  code: EndReasonCode = "upstream_rejected",
) {
  const detail = error instanceof UpstreamRejectedError && error.code ? ` (${error.code})` : "";
  return {
    error: { code: "server_error", message: error.message },
    endReason: { code, message: `${error.message}${detail}` },
  } satisfies Partial<Job>;
}

export async function reread(job: Job, deps: Deps): Promise<Step> {
  const current = await deps.jobs.get(job.id);
  if (!current) return { job, nextAt: null };
  return { job: current, nextAt: needsAttention(current) ? deps.clock.now() : null };
}
