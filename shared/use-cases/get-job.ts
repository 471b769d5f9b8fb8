import type { Job } from "#shared/domain/job.ts";
import { NotFoundError } from "#shared/errors.ts";
import type { Deps, JobView } from "#shared/ports.ts";

const notFound = (jobId: string) =>
  new NotFoundError(`Response with id '${jobId}' not found.`, { param: "response_id" });

/** Another tenant's job is reported exactly like a missing one: no existence oracle. */
export async function getOwnedJob(tenantId: string, jobId: string, deps: Pick<Deps, "jobs">): Promise<Job> {
  const job = jobId.startsWith("resp_") ? await deps.jobs.get(jobId) : null;
  if (!job || job.tenantId !== tenantId) throw notFound(jobId);
  return job;
}

/** The tenant's job with what its Response object shows (one read where it can); 404 as above. */
export async function getOwnedView(tenantId: string, jobId: string, deps: Pick<Deps, "jobs">): Promise<JobView> {
  const view = jobId.startsWith("resp_") ? await deps.jobs.getForView(jobId, tenantId) : null;
  if (!view) throw notFound(jobId);
  return view;
}
