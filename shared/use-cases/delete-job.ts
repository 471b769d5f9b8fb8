import { isTerminal } from "#shared/domain/job.ts";
import { UpstreamRejectedError, VersionConflictError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { cancelJob } from "./cancel-job.ts";
import { getOwnedJob } from "./get-job.ts";

/** OpenAI's answer to a delete. */
export interface DeletedResponse {
  id: string;
  object: "response";
  deleted: true;
}

/**
 * Deletes a job upstream and locally. OpenAI lets a running response be deleted; the relay cancels
 * it first, so nothing keeps running (and billing) upstream with nobody watching. Upstream first:
 * if the upstream cannot be reached the job stays, and the caller's retry finishes the work.
 */
export async function deleteJob(tenantId: string, jobId: string, deps: Deps): Promise<DeletedResponse> {
  let job = await getOwnedJob(tenantId, jobId, deps);
  if (!isTerminal(job.status)) job = await cancelJob(tenantId, jobId, deps);
  // A create in flight records its upstream id on the job (and cancels it) when it returns; the job
  // must still be there then. One lost in a crash never returns: after the grace there is nothing.
  if (job.createState === "sent" && deps.clock.now() < (job.createSentAt ?? 0) + deps.settings.createGraceMs)
    throw new VersionConflictError("The job's upstream create is still in flight; delete it again in a few seconds.", {
      code: "conflict",
    });
  if (job.upstreamId) {
    if (job.upstreamCancelPending) {
      // An owed cancel the poller would have kept sending: it is this call's to send now.
      await deps.upstream.cancel(job.upstreamId).catch((error) => {
        if (!(error instanceof UpstreamRejectedError)) throw error;
      });
    }
    await deps.upstream.delete(job.upstreamId);
  }
  await deps.jobs.delete(job);
  return { id: job.id, object: "response", deleted: true };
}
