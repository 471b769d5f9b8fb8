import { isTerminal, type Job } from "#shared/domain/job.ts";
import type { Deps } from "#shared/ports.ts";
import { announceEnd } from "./announce-end.ts";
import { retryOnConflict } from "./conflict-retry.ts";
import { getOwnedJob } from "./get-job.ts";
import { finishLocally, stopUpstream } from "./job-transitions.ts";

/**
 * Cancel, idempotently: a finished job is returned unchanged; a running one is cancelled upstream
 * and locally. Races with the poller resolve through the version check: re-read and try again.
 */
export async function cancelJob(tenantId: string, jobId: string, deps: Deps): Promise<Job> {
  const job = await getOwnedJob(tenantId, jobId, deps);
  const cancelled = await retryOnConflict(
    job,
    deps,
    async (current) => {
      if (isTerminal(current.status)) return current;
      // Not created upstream yet: nothing to stop there. If a create is in flight (or its answer
      // was lost), whoever records its response sees this cancel and stops it upstream.
      if (current.createState !== "done") return finishLocally(current, "cancelled", deps);
      return stopUpstream(current, deps, null);
    },
    // Deleted meanwhile: answer as a fresh read would.
    { onGone: () => getOwnedJob(tenantId, jobId, deps) },
  );
  // The caller's `response.cancelled` webhook goes now, not at the poller's next look.
  if (!isTerminal(job.status)) await announceEnd(cancelled, deps);
  return cancelled;
}
