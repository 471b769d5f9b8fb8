/**
 * The moves a job makes, shared by submit, the poller, cancel and OpenAI's webhook. Each move is
 * one conditional write fenced by the job's version; a lost race re-reads and lets the winner be.
 */
import { canTransition, isTerminal, needsAttention, type Delivery, type Job, type JobError, type JobStatus, type ResponseUsage } from "#shared/domain/job.ts";
import { costUsd, modelInfo } from "#shared/domain/models.ts";
import { pollIntervalMs, retryDelayMs } from "#shared/domain/polling.ts";
import { UpstreamRejectedError, UpstreamUnavailableError, VersionConflictError } from "#shared/errors.ts";
import type { Deps, UpstreamResponse } from "#shared/ports.ts";
import { classifyUpstreamError } from "#shared/upstream/classify-error.ts";

/** What the caller should do next with a job: look again at `nextAt`, or nothing (null). */
export interface Step {
  job: Job;
  nextAt: number | null;
  /** Set when the upstream refused the create for good (submit answers with it). */
  rejected?: UpstreamRejectedError;
}

/**
 * Every job write goes through here: the conditional update, then (for a status change) the
 * lifecycle event. Publishing is best effort and after the write, so an event never announces a
 * state that was not stored.
 */
export async function updateJob(job: Job, changes: Partial<Job>, dueAt: number | null | undefined, deps: Deps): Promise<Job> {
  const next = await deps.jobs.update(job, changes, dueAt);
  if (changes.status && changes.status !== job.status) await publishStatus(next, job.status, deps);
  return next;
}

export async function publishStatus(job: Job, previousStatus: JobStatus | null, deps: Deps): Promise<void> {
  await deps.events
    .publish([
      {
        jobId: job.id,
        tenantId: job.tenantId,
        status: job.status,
        previousStatus,
        upstreamId: job.upstreamId,
        model: job.model,
        at: deps.clock.now(),
        costUsd: job.costUsd,
        error: job.error,
      },
    ])
    .catch(() => undefined);
}

const UPSTREAM_STATUSES: ReadonlySet<string> = new Set(["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"]);

/** Marks the create as sent, sends it, and records the upstream id (or the failure). */
export async function sendCreate(job: Job, deps: Deps): Promise<Step> {
  const now = deps.clock.now();
  let claimed: Job;
  try {
    claimed = await updateJob(job, { createState: "sent", createSentAt: now, createAttempts: job.createAttempts + 1 }, now + deps.settings.createGraceMs, deps);
  } catch (error) {
    if (error instanceof VersionConflictError) return reread(job, deps);
    throw error;
  }
  const request = await deps.jobs.getRequest(claimed);
  let response: UpstreamResponse;
  try {
    response = await deps.upstream.create(request);
  } catch (error) {
    return createFailed(claimed, classifyUpstreamError(error), deps);
  }
  try {
    return await applyUpstream(claimed, response, deps, { upstreamId: response.id, createState: "done", createSentAt: null });
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    // Cancelled (or otherwise settled) while the create was in flight: the upstream response must
    // not run on unwatched, so stop it and remember which one it was.
    const current = await deps.jobs.get(job.id);
    if (current && isTerminal(current.status) && !isTerminal(response.status as JobStatus)) {
      await deps.upstream.cancel(response.id).catch(() => undefined);
    }
    if (current && !current.upstreamId) {
      return { job: await updateJob(current, { upstreamId: response.id, createState: "done" }, needsAttention(current) ? now : null, deps), nextAt: null };
    }
    return { job: current ?? claimed, nextAt: current && !isTerminal(current.status) ? now : null };
  }
}

async function createFailed(job: Job, error: UpstreamRejectedError | UpstreamUnavailableError, deps: Deps): Promise<Step> {
  const now = deps.clock.now();
  if (error instanceof UpstreamRejectedError) {
    const failed = await finishLocally(job, "failed", deps, { error: { code: error.code ?? `upstream_${error.status}`, message: error.message } });
    return { job: failed, nextAt: null, rejected: error };
  }
  if (error.ambiguous) {
    // The request may have reached the upstream. Sending it again could start a second billed
    // response, so the job ends here with a clear reason instead.
    return { job: await failInterrupted(job, deps, error.message), nextAt: null };
  }
  const nextAt = now + retryDelayMs(job.createAttempts + 1, error.retryAfterMs);
  const pending = await updateJob(job, { createState: "pending", createSentAt: null, lastUpstreamError: error.message }, nextAt, deps);
  return { job: pending, nextAt };
}

export async function failInterrupted(job: Job, deps: Deps, detail?: string): Promise<Job> {
  return finishLocally(job, "failed", deps, {
    error: {
      code: "upstream_create_interrupted",
      message:
        "The upstream create was interrupted before the relay learned its outcome" +
        (detail ? ` (${detail})` : "") +
        ". It was not sent again, so that the request can never run (and bill) twice. Submit it again.",
    },
  });
}

/**
 * Applies what the upstream says about a job. No write when nothing changed (writes grow with
 * status changes, not with polls). `extra` rides along on the write when there is one, and forces it.
 */
export async function applyUpstream(job: Job, response: UpstreamResponse, deps: Deps, extra: Partial<Job> = {}): Promise<Step> {
  const now = deps.clock.now();
  const status = UPSTREAM_STATUSES.has(response.status) ? (response.status as JobStatus) : job.status;
  if (isTerminal(status)) return { job: await finishWithResponse(job, status, response, deps, extra), nextAt: null };
  const changed = status !== job.status;
  if (!changed && Object.keys(extra).length === 0) {
    const unchangedFor = now - job.statusChangedAt;
    return { job, nextAt: now + pollIntervalMs(unchangedFor) };
  }
  if (changed && !canTransition(job.status, status)) return { job, nextAt: now + pollIntervalMs(0) };
  const nextAt = now + pollIntervalMs(changed ? 0 : now - job.statusChangedAt);
  const updated = await updateJob(
    job,
    { ...extra, status, upstreamStatus: response.status, lastUpstreamError: null, ...(changed ? { statusChangedAt: now } : {}) },
    nextAt,
    deps,
  );
  return { job: updated, nextAt };
}

/** Stores the upstream's final Response, then records the terminal state that points at it. */
export async function finishWithResponse(job: Job, status: JobStatus, response: UpstreamResponse, deps: Deps, extra: Partial<Job> = {}, error?: JobError): Promise<Job> {
  const now = deps.clock.now();
  const output = await deps.jobs.putOutput(job.id, response, now);
  const usage = (response.usage as ResponseUsage | null | undefined) ?? null;
  const completedAtSec = typeof response.completed_at === "number" ? response.completed_at : null;
  return finishLocally(job, status, deps, {
    ...extra,
    upstreamStatus: response.status,
    output,
    usage,
    costUsd: costUsd(usage, modelInfo(job.model)),
    completedAt: completedAtSec !== null ? Math.round(completedAtSec * 1000) : now,
    error: error ?? (response.error as JobError | null | undefined) ?? null,
    incompleteDetails: (response.incomplete_details as { reason: string } | null | undefined) ?? null,
  });
}

/**
 * The terminal write. In the same write it schedules the final webhook (if the caller asked for
 * this event), so a crash right after can lose no delivery. The job leaves the due index unless a
 * webhook or an upstream cancel is still owed.
 */
export async function finishLocally(job: Job, status: JobStatus, deps: Deps, changes: Partial<Job> = {}): Promise<Job> {
  if (!canTransition(job.status, status)) throw new VersionConflictError(`job ${job.id} cannot move from ${job.status} to ${status}`);
  const now = deps.clock.now();
  const owesCancel = changes.upstreamCancelPending ?? false;
  const delivery = firstDelivery(job, status);
  const dueAt = delivery ? now : owesCancel ? now + retryDelayMs(1, null) : null;
  return updateJob(
    job,
    { completedAt: now, lastUpstreamError: null, ...changes, status, statusChangedAt: now, upstreamCancelPending: owesCancel, delivery },
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
 * Stops the upstream response and ends the job as `status` (cancelled or expired). If the upstream
 * had already finished, the job takes the upstream's terminal status instead: that is the truth.
 * A cancel the upstream could not take now is owed: the job is settled locally and the poller
 * keeps telling the upstream.
 */
export async function stopUpstream(job: Job, status: "cancelled" | "expired", deps: Deps, error: JobError | null): Promise<Job> {
  if (!job.upstreamId) return finishLocally(job, status, deps, { error });
  try {
    const response = await deps.upstream.cancel(job.upstreamId);
    const upstreamStatus = response.status as JobStatus;
    const finalStatus = upstreamStatus !== "cancelled" && isTerminal(upstreamStatus) ? upstreamStatus : status;
    return finishWithResponse(job, finalStatus, response, deps, {}, finalStatus === status ? (error ?? undefined) : undefined);
  } catch (caught) {
    const classified = classifyUpstreamError(caught);
    if (classified instanceof UpstreamRejectedError) return finishLocally(job, status, deps, { error });
    return finishLocally(job, status, deps, { error, upstreamCancelPending: true, lastUpstreamError: classified.message });
  }
}

export async function reread(job: Job, deps: Deps): Promise<Step> {
  const current = await deps.jobs.get(job.id);
  if (!current) return { job, nextAt: null };
  return { job: current, nextAt: needsAttention(current) ? deps.clock.now() : null };
}
