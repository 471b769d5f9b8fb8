import { inputItemsFromRequest, pageOfItems } from "#shared/use-cases/input-items.ts";
import { UpstreamRejectedError } from "#shared/errors.ts";
import type { Deps, InputItemPage, InputItemQuery } from "#shared/ports.ts";
import { getOwnedJob } from "./get-job.ts";

/**
 * A job's input items. The upstream is the source once it has the response: its items carry the
 * ids and `include` content exactly as OpenAI makes them. Before that (the create not sent yet, or
 * refused), or when the upstream no longer has it (deleted there, `store: false`, past its
 * retention), the items are derived from the request the relay stored, in the same shape.
 */
export async function listInputItems(
  tenantId: string,
  jobId: string,
  query: InputItemQuery,
  deps: Pick<Deps, "jobs" | "upstream">,
): Promise<InputItemPage> {
  const job = await getOwnedJob(tenantId, jobId, deps);
  if (job.upstreamId) {
    try {
      return await deps.upstream.listInputItems(job.upstreamId, query);
    } catch (error) {
      if (!(error instanceof UpstreamRejectedError && error.status === 404)) throw error;
    }
  }
  return pageOfItems(inputItemsFromRequest(job.id, await deps.jobs.getRequest(job)), query);
}
