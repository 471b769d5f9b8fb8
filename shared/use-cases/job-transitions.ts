/**
 * The moves a job makes, shared by submit, the poller, cancel, streams and OpenAI's webhook. What
 * each move may do and writes is decided by the lifecycle table (shared/domain/lifecycle.ts);
 * this file does the I/O around it: upstream calls, stored outputs, and the conditional write,
 * fenced by the job's version. A lost race re-reads and lets the winner be.
 */
import {
  type EndReason,
  type EndReasonCode,
  isJobStatus,
  isTerminal,
  type Job,
  type JobError,
  type JobStatus,
  needsAttention,
  type ResponseUsage,
} from "#shared/domain/job.ts";
import { allows, decide, type Ending, type JobEvent } from "#shared/domain/lifecycle.ts";
import { costUsd, modelInfo } from "#shared/domain/models.ts";
import { pollIntervalMs, retryDelayMs } from "#shared/domain/polling.ts";
import { nextLook } from "./poll-schedule.ts";
import { carriesJobTag, upstreamBody } from "#shared/domain/upstream-request.ts";
import {
  asUpstreamFailure,
  UpstreamAuthError,
  UpstreamRejectedError,
  type UpstreamFailure,
  VersionConflictError,
} from "#shared/errors.ts";
import type { Deps, UpstreamResponse } from "#shared/ports.ts";
import { retryOnConflict } from "./conflict-retry.ts";

/** What the caller should do next with a job: look again at `nextAt`, or nothing (null). */
export interface Step {
  job: Job;
  nextAt: number | null;
  /** Set when the upstream refused the create for good (submit answers with it). */
  rejected?: UpstreamRejectedError | UpstreamAuthError;
}

/**
 * Every job write goes through here: the lifecycle decides, the store writes conditionally.
 * Lifecycle events are not published here: the table's change stream is their outbox
 * (shared/events/lifecycle-outbox.ts), so a crash right after the write cannot lose one.
 */
export async function transition(job: Job, event: JobEvent, deps: Deps): Promise<Job> {
  const now = deps.clock.now();
  const decision = decide(job, event, now);
  return deps.jobs.update(job, { ...decision.changes, updatedAt: now }, decision.dueAt);
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
  let claimed: Job;
  try {
    claimed = await transition(job, { type: "create_sent", graceMs: deps.settings.createGraceMs }, deps);
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
    return await recordResponse(claimed, response, deps, "create_accepted");
  } catch (error) {
    if (!(error instanceof VersionConflictError)) throw error;
    // The job changed while its create was in flight (a cancel, most likely).
    return attachUpstream(job, response, deps);
  }
}

/**
 * An upstream response that belongs to `job` has turned up: the late answer to its own create, or
 * one found through OpenAI's webhook after its create's answer was lost. It must never run on
 * unwatched: a job still running takes it as its upstream response; a job that ended meanwhile
 * records it and stops it upstream (or owes that cancel); a second response for a job that has
 * one already (which the relay never asks for) is stopped.
 */
export async function attachUpstream(job: Job, response: UpstreamResponse, deps: Deps): Promise<Step> {
  const stray = async (): Promise<Step> => {
    await cancelOrOwe(response, deps);
    return { job, nextAt: null };
  };
  return retryOnConflict(
    job,
    deps,
    async (current) => {
      const now = deps.clock.now();
      if (current.upstreamId === response.id) return { job: current, nextAt: needsAttention(current) ? now : null };
      if (current.upstreamId !== null) return { ...(await stray()), job: current };
      if (!isTerminal(current.status)) return recordResponse(current, response, deps, "upstream_found");
      const owes = await cancelOrOwe(response, deps);
      const recorded = await transition(
        current,
        { type: "late_upstream", upstreamId: response.id, owesUpstreamCancel: owes },
        deps,
      );
      return { job: recorded, nextAt: needsAttention(recorded) ? now : null };
    },
    { onGone: stray },
  );
}

/** Stops a response nobody will watch. True when the cancel is still owed (the upstream could not take it now). */
async function cancelOrOwe(response: UpstreamResponse, deps: Deps): Promise<boolean> {
  if (isTerminal(response.status as JobStatus)) return false;
  return deps.upstream.cancel(response.id).then(
    () => false,
    (error) => !(asUpstreamFailure(error) instanceof UpstreamRejectedError),
  );
}

/** Records the upstream id with what the response says: running, or already ended. */
async function recordResponse(
  job: Job,
  response: UpstreamResponse,
  deps: Deps,
  type: "create_accepted" | "upstream_found",
): Promise<Step> {
  const status = isJobStatus(response.status) ? response.status : job.status;
  if (isTerminal(status))
    return { job: await finishWithResponse(job, status, response, deps, { upstreamId: response.id }), nextAt: null };
  // A response created streaming is watched on its stream from the poller's first look.
  const next = await nextLook({ ...job, upstreamId: response.id }, deps, {
    statusChanged: true,
    watching: deps.upstream.canWatch(response.id),
  });
  const recorded = await transition(
    job,
    { type, upstreamId: response.id, status, upstreamStatus: response.status, nextPollAt: next.at, watch: next.watch },
    deps,
  );
  return { job: recorded, nextAt: next.at };
}

async function createFailed(job: Job, error: UpstreamFailure, deps: Deps): Promise<Step> {
  const now = deps.clock.now();
  if (error instanceof UpstreamRejectedError || error instanceof UpstreamAuthError) {
    const failed = await finishLocally(job, "failed", deps, rejectedEnd(error));
    return { job: failed, nextAt: null, rejected: error };
  }
  if (error.ambiguous) {
    // The request may have reached the upstream. Sending it again could start a second billed
    // response, so the relay looks for the one it may have started instead.
    return confirmOrGiveUp(job, deps, error.message);
  }
  const retryAt = now + retryDelayMs(job.createAttempts + 1, error.retryAfterMs);
  const pending = await transition(job, { type: "create_deferred", retryAt, error: error.message }, deps);
  return { job: pending, nextAt: retryAt };
}

/**
 * A create whose answer is lost (a timeout, a reset, a crash mid-create): wait for its response
 * to turn up, as long as something could still find it (OpenAI's webhooks name it when it ends,
 * and its `relay_job_id` tag leads back here); else end the job now, saying why.
 */
export async function confirmOrGiveUp(job: Job, deps: Deps, detail?: string): Promise<Step> {
  const until = await confirmUntil(job, deps);
  if (until <= deps.clock.now()) return { job: await failInterrupted(job, deps, detail), nextAt: null };
  const error = `The upstream create's answer was lost${detail ? ` (${detail})` : ""}; confirming whether the upstream started it.`;
  const confirming = await transition(job, { type: "create_unknown", error, confirmUntil: until }, deps);
  return { job: confirming, nextAt: until };
}

/** Until when a lost create can still be found (its creation time: never). */
export async function confirmUntil(job: Job, deps: Deps): Promise<number> {
  if (!carriesJobTag(job.metadata) || !(await deps.settings.findsLostCreates())) return job.createdAt;
  return job.deadlineAt + deps.settings.confirmSlackMs;
}

export async function failInterrupted(job: Job, deps: Deps, detail?: string): Promise<Job> {
  const why = !(await deps.settings.findsLostCreates())
    ? "OpenAI's webhooks are not configured on this relay, so it cannot find the response if one was started"
    : !carriesJobTag(job.metadata)
      ? "the request uses all 16 metadata slots, so the relay could not tag the response to find it"
      : "no response for it turned up before the relay stopped looking";
  const message =
    "The upstream create was interrupted before the relay learned its outcome" +
    (detail ? ` (${detail})` : "") +
    `, and ${why}. It was not sent again, so that the request can never run (and bill) twice. Submit it again.`;
  return finishLocally(job, "failed", deps, {
    error: { code: "server_error", message },
    endReason: { code: "upstream_create_interrupted", message },
  });
}

/**
 * Applies what the upstream says about a running job. `watching`: the poller holds its stream. No
 * write when nothing changed (writes grow with status changes, not with polls), except a push backstop's: minutes apart, it writes its
 * next time into the due index, so the poller invocation after this one does not look early.
 */
export async function applyUpstream(
  job: Job,
  response: UpstreamResponse,
  deps: Deps,
  options: { watching?: boolean } = {},
): Promise<Step> {
  const now = deps.clock.now();
  const status = isJobStatus(response.status) ? response.status : job.status;
  if (isTerminal(status)) return { job: await finishWithResponse(job, status, response, deps), nextAt: null };
  const changed = status !== job.status;
  const next = await nextLook(job, deps, { statusChanged: changed, watching: options.watching });
  const nextAt = next.at;
  // Nothing new (no stale trouble note to clear, the same way of watching, no backstop): no write.
  const sameWatch = next.watch === (job.watch ?? "poll");
  if (!changed && job.lastUpstreamError === null && sameWatch && next.watch !== "push") return { job, nextAt };
  const event: JobEvent = {
    type: "progress",
    status,
    upstreamStatus: response.status,
    nextPollAt: nextAt,
    watch: next.watch,
  };
  // An upstream that reports going backwards (in_progress → queued) is not followed.
  if (!allows(job, event)) return { job, nextAt: now + pollIntervalMs(0) };
  return { job: await transition(job, event, deps), nextAt };
}

/**
 * A stream-watched job whose watch has lapsed while OpenAI's webhooks are arriving: from here its
 * end is pushed, and a backstop poll is scheduled, without a look now (the stream told its state
 * until the handover, seconds ago). Null when push does not reach it: then it must be looked at.
 */
export async function handToPush(job: Job, deps: Deps): Promise<Step | null> {
  const next = await nextLook(job, deps, { statusChanged: false });
  if (next.watch !== "push") return null;
  const event: JobEvent = {
    type: "progress",
    status: job.status,
    upstreamStatus: job.upstreamStatus ?? job.status,
    nextPollAt: next.at,
    watch: "push",
  };
  if (!allows(job, event)) return null;
  return { job: await transition(job, event, deps), nextAt: next.at };
}

/** Stores the upstream's final Response, then records the terminal state that points at it. */
export async function finishWithResponse(
  job: Job,
  status: JobStatus,
  response: UpstreamResponse,
  deps: Deps,
  extra: Omit<Ending, "status"> = {},
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
 * this event), so a crash right after can lose no delivery.
 */
export async function finishLocally(
  job: Job,
  status: JobStatus,
  deps: Deps,
  ending: Omit<Ending, "status"> = {},
): Promise<Job> {
  return transition(job, { type: "end", status, ...ending }, deps);
}

/**
 * Stops the upstream response and ends the job `cancelled` (by the caller when `reason` is null, else
 * by the relay for that reason). If the upstream had already finished, the job takes the
 * upstream's terminal status instead: that is the truth. A cancel the upstream could not take now
 * is owed: the job is settled locally and the poller keeps telling the upstream.
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
      owesUpstreamCancel: true,
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
): Omit<Ending, "status"> {
  const detail = error instanceof UpstreamRejectedError && error.code ? ` (${error.code})` : "";
  return {
    error: { code: "server_error", message: error.message },
    endReason: { code, message: `${error.message}${detail}` },
  };
}

export async function reread(job: Job, deps: Deps): Promise<Step> {
  const current = await deps.jobs.get(job.id);
  if (!current) return { job, nextAt: null };
  return { job: current, nextAt: needsAttention(current) ? deps.clock.now() : null };
}
