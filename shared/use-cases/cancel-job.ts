import { isTerminal, type Job } from "#shared/domain/job.ts";
import { VersionConflictError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { getOwnedJob } from "./get-job.ts";
import { finishLocally, stopUpstream } from "./job-transitions.ts";

/**
 * Cancel, idempotently: a finished job is returned unchanged; a running one is cancelled upstream
 * and locally. Races with the poller resolve through the version check: re-read and try again.
 */
export async function cancelJob(tenantId: string, jobId: string, deps: Deps): Promise<Job> {
  let job = await getOwnedJob(tenantId, jobId, deps);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (isTerminal(job.status)) return job;
    try {
      // Not created upstream yet: nothing to stop there. If a create is in flight, the submit that
      // sent it sees this cancel when it records the id, and cancels the upstream response itself.
      if (job.createState !== "done") return await finishLocally(job, "cancelled", deps);
      return await stopUpstream(job, deps, null);
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      job = await getOwnedJob(tenantId, jobId, deps);
    }
  }
  throw new VersionConflictError("The job kept changing while it was being cancelled; try again.", {
    code: "conflict",
  });
}
