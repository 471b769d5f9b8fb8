import { type EndReason, isDeliveryActive, isTerminal, type Job } from "#shared/domain/job.ts";
import { retryDelayMs } from "#shared/domain/polling.ts";
import { asUpstreamFailure, UpstreamAuthError, UpstreamRejectedError, VersionConflictError } from "#shared/errors.ts";
import type { Deps, UpstreamResponse } from "#shared/ports.ts";
import { deliverWebhook } from "./deliver-webhook.ts";
import {
  applyUpstream,
  confirmOrGiveUp,
  confirmUntil,
  failInterrupted,
  finishLocally,
  rejectedEnd,
  reread,
  sendCreate,
  stopUpstream,
  transition,
  type Step,
} from "./job-transitions.ts";

const AUTH_RETRY_MS = 60_000;

export interface AdvanceContext {
  /** Consecutive transient failures seen for this job by the caller (the poller keeps it in memory). */
  transientFailures: number;
  /**
   * Send a due webhook within this look (default true). False: leave it to the caller, who is told
   * when it is due (the poller's delivery lane; a request handler that must answer quickly).
   */
  deliverNow?: boolean;
  /** The caller holds the job's upstream stream: a look now is a backstop, the watch goes on. */
  watching?: boolean;
}

/**
 * One look at a job: send a pending create, settle a lost one, enforce deadlines, or poll the
 * upstream and record what changed. Returns when to look next (null: never again).
 * Transient upstream faults cost no write beyond the first of a run, so an upstream that stays
 * down leaves jobs pending, untouched, until their deadline.
 */
export async function advanceJob(
  job: Job,
  deps: Deps,
  context: AdvanceContext = { transientFailures: 0 },
): Promise<Step & { transient?: boolean }> {
  try {
    const result = await step(job, deps, context);
    const justEnded = !isTerminal(job.status) && isTerminal(result.job.status);
    if (justEnded && context.deliverNow !== false && isDeliveryActive(result.job.delivery))
      return await afterTheEnd(result.job, deps, context);
    return result;
  } catch (error) {
    if (error instanceof VersionConflictError) return reread(job, deps);
    throw error;
  }
}

async function step(job: Job, deps: Deps, context: AdvanceContext): Promise<Step & { transient?: boolean }> {
  const now = deps.clock.now();
  if (isTerminal(job.status)) return afterTheEnd(job, deps, context);
  if (job.createState === "pending") {
    if (now >= job.deadlineAt)
      return { job: await finishLocally(job, "cancelled", deps, { endReason: deadlineReason(job) }), nextAt: null };
    return sendCreate(job, deps);
  }
  if (job.createState === "sent") {
    // A create still unrecorded after the grace was lost with its process: look for its response.
    const lostAt = (job.createSentAt ?? job.createdAt) + deps.settings.createGraceMs;
    if (now < lostAt) return { job, nextAt: lostAt };
    return confirmOrGiveUp(job, deps);
  }
  if (job.createState === "unconfirmed") {
    // Only OpenAI's webhook can find the response now (shared/http/routes/openai-webhooks.ts).
    const until = await confirmUntil(job, deps);
    if (now < until) return { job, nextAt: until };
    return { job: await failInterrupted(job, deps), nextAt: null };
  }
  if (now >= job.deadlineAt) return { job: await stopUpstream(job, deps, deadlineReason(job)), nextAt: null };

  let response: UpstreamResponse;
  try {
    response = await deps.upstream.retrieve(job.upstreamId!, { include: job.include ?? undefined });
  } catch (error) {
    const classified = asUpstreamFailure(error);
    if (classified instanceof UpstreamRejectedError) {
      // e.g. 404: the upstream no longer knows the response. Nothing will ever change: settle it.
      const code = classified.status === 404 ? "upstream_not_found" : "upstream_rejected";
      const failed = await finishLocally(job, "failed", deps, rejectedEnd(classified, code));
      return { job: failed, nextAt: null };
    }
    // A refused relay key is the operator's to fix, not the job's end: wait at least a minute.
    const nextAt =
      classified instanceof UpstreamAuthError
        ? now + Math.max(AUTH_RETRY_MS, retryDelayMs(context.transientFailures + 1, null))
        : now + retryDelayMs(context.transientFailures + 1, classified.retryAfterMs);
    // One write per run of trouble (so the status shows it, and other pollers see the retry
    // time in the index), none per failed poll.
    const noted = job.lastUpstreamError
      ? job
      : await transition(job, { type: "trouble", error: classified.message, retryAt: nextAt }, deps);
    return { job: noted, nextAt, transient: true };
  }
  if (response.status === "queued" && now >= job.queuedDeadlineAt) {
    // Stuck in the upstream's queue past the model's limit (a known failure mode): stop it.
    return {
      job: await stopUpstream(job, deps, {
        code: "queued_too_long",
        message: `The upstream kept the response queued past the relay's limit (${Math.round((job.queuedDeadlineAt - job.createdAt) / 1000)} s); it was cancelled.`,
      }),
      nextAt: null,
    };
  }
  return applyUpstream(job, response, deps, { watching: context.watching });
}

/** What an ended job may still owe: an upstream cancel that failed, and the final webhook. */
async function afterTheEnd(job: Job, deps: Deps, context: AdvanceContext): Promise<Step & { transient?: boolean }> {
  let cancelStep: (Step & { transient?: boolean }) | null = null;
  if (job.upstreamCancelPending && job.upstreamId) {
    cancelStep = await retryOwedCancel(job, deps, context);
    job = cancelStep.job;
  }
  // The poller sends webhooks in its own lane (shared/poller/delivery-lane.ts): here it only
  // learns when the delivery is due.
  const deliveryStep = !isDeliveryActive(job.delivery)
    ? { job, nextAt: null }
    : context.deliverNow === false
      ? { job, nextAt: job.delivery!.nextAttemptAt ?? deps.clock.now() }
      : await deliverWebhook(job, deps);
  const times = [cancelStep?.nextAt, deliveryStep.nextAt].filter((t): t is number => typeof t === "number");
  return { job: deliveryStep.job, nextAt: times.length ? Math.min(...times) : null, transient: cancelStep?.transient };
}

async function retryOwedCancel(job: Job, deps: Deps, context: AdvanceContext): Promise<Step & { transient?: boolean }> {
  const now = deps.clock.now();
  try {
    await deps.upstream.cancel(job.upstreamId!);
  } catch (error) {
    const classified = asUpstreamFailure(error);
    if (!(classified instanceof UpstreamRejectedError)) {
      const retryAfter = classified instanceof UpstreamAuthError ? AUTH_RETRY_MS : classified.retryAfterMs;
      return { job, nextAt: now + retryDelayMs(context.transientFailures + 1, retryAfter), transient: true };
    }
  }
  const settled = await transition(job, { type: "cancel_settled" }, deps);
  return { job: settled, nextAt: null };
}

function deadlineReason(job: Job): EndReason {
  return {
    code: "deadline_exceeded",
    message: `The job passed its deadline (${new Date(job.deadlineAt).toISOString()}) and was cancelled upstream.`,
  };
}
