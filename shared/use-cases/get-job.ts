import type { Job } from "#shared/domain/job.ts";
import { NotFoundError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";

/** Another tenant's job is reported exactly like a missing one: no existence oracle. */
export async function getOwnedJob(tenantId: string, jobId: string, deps: Pick<Deps, "jobs">): Promise<Job> {
  const job = jobId.startsWith("resp_") ? await deps.jobs.get(jobId) : null;
  if (!job || job.tenantId !== tenantId)
    throw new NotFoundError(`Response with id '${jobId}' not found.`, { param: "response_id" });
  return job;
}
