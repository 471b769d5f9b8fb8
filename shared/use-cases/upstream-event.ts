import { isJobIdShaped, isTerminal, JOB_ID_METADATA_KEY } from "#shared/domain/job.ts";
import { asUpstreamFailure, UpstreamRejectedError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { advanceJob } from "./advance-job.ts";
import { announceEnd } from "./announce-end.ts";
import { attachUpstream } from "./job-transitions.ts";

/** What an upstream event led to, for the log and the tests. */
export type UpstreamEventOutcome = "advanced" | "already_ended" | "reattached" | "unknown";

/**
 * OpenAI says something happened to one of its responses (a verified webhook). A response the
 * relay knows is looked at at once instead of at its next poll, and if that look finds the end,
 * the caller's own webhook is handed to `deliverSoon` (OpenAI still gets its answer quickly: the
 * send is not awaited). A response it does not know may be one
 * whose create answer was lost (a crash or a timeout mid-create): its `relay_job_id` tag leads to
 * its job, which takes it up, or stops it if the job ended meanwhile
 * (docs/decisions/0003-ambiguous-creates.md).
 */
export async function followUpstreamEvent(upstreamId: string, deps: Deps): Promise<UpstreamEventOutcome> {
  const known = await deps.jobs.findByUpstreamId(upstreamId);
  if (known) {
    if (isTerminal(known.status)) return "already_ended";
    const step = await advanceJob(known, deps, { transientFailures: 0, deliverNow: false });
    await announceEnd(step.job, deps);
    return "advanced";
  }
  let response: Awaited<ReturnType<Deps["upstream"]["retrieve"]>>;
  try {
    response = await deps.upstream.retrieve(upstreamId);
  } catch (error) {
    // Not the relay's response (another app on the same OpenAI project), or gone: nothing to do.
    if (asUpstreamFailure(error) instanceof UpstreamRejectedError) return "unknown";
    throw error;
  }
  const metadata = (response.metadata ?? {}) as Record<string, unknown>;
  const jobId = metadata[JOB_ID_METADATA_KEY];
  if (!isJobIdShaped(jobId)) return "unknown";
  const job = await deps.jobs.get(jobId);
  // A tag naming no job here: another relay's, or a job deleted since. Not ours to stop.
  if (!job) return "unknown";
  const step = await attachUpstream(job, response, deps);
  await announceEnd(step.job, deps);
  return "reattached";
}
