import type { Context } from "hono";
import { isTerminal, type Job } from "#shared/domain/job.ts";
import { StillRunningError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { streamDeadline, streamServiceFor } from "#shared/http/http-stream.ts";
import { TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";

/** The local stack's wait for a blocking create (no front door limits it; the SDKs wait 10 min). */
export const LOCAL_BLOCKING_WAIT_MS = 9 * 60_000;

/**
 * How long this request may wait for its job: what the front door allows (API Gateway ~25 s, the
 * stream function URL up to its 15-minute timeout, less a margin), else `localWaitMs`.
 */
export function blockingWaitMs(c: Context, localWaitMs: number): number {
  const deadline = streamDeadline(c);
  return deadline === null ? localWaitMs : Math.max(0, deadline - Date.now());
}

/**
 * Holds a blocking create until its job ends. It follows the job's stream (the upstream create
 * streams for exactly this), so it wakes on the end itself, with no polling loop per request;
 * the end is recorded before the stream shows it, so the job read afterwards is final. Past
 * `waitMs` it throws StillRunningError naming the job: the job keeps running.
 */
export async function waitForEnd(job: Job, deps: Deps, waitMs: number, statusUrl: string): Promise<Job> {
  if (!isTerminal(job.status)) {
    const timeout = AbortSignal.timeout(Math.max(1, waitMs));
    for await (const chunk of streamServiceFor(deps).follow(job, -1, timeout)) {
      if (chunk.kind === "event" && TERMINAL_EVENT_TYPES.has(chunk.event.type)) break;
    }
  }
  const current = (await deps.jobs.get(job.id)) ?? job;
  if (isTerminal(current.status)) return current;
  throw new StillRunningError(
    `The response ${job.id} is still ${current.status} after the relay waited ${Math.round(waitMs / 1000)} s, as long as this endpoint can hold a request. It keeps running in background: GET ${statusUrl} for its result (or add ?stream=true to follow it), or create with "background": true to get its id at once.`,
    { jobId: job.id },
  );
}
