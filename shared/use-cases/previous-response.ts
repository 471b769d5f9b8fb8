import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";

/**
 * `previous_response_id` names a relay job; the upstream knows that response by its own id. A job
 * of another tenant, an unknown id, or a job whose upstream create has not happened yet (there is
 * nothing upstream to continue from) answers as OpenAI does for an id it does not know.
 */
export async function upstreamIdOfPrevious(
  tenantId: string,
  value: unknown,
  deps: Pick<Deps, "jobs">,
): Promise<string> {
  if (typeof value !== "string" || value === "")
    throw new InvalidRequestError("Invalid type for 'previous_response_id': expected a string.", {
      param: "previous_response_id",
      code: "invalid_type",
    });
  const job = value.startsWith("resp_") ? await deps.jobs.get(value) : null;
  if (!job || job.tenantId !== tenantId || !job.upstreamId)
    throw new InvalidRequestError(`Previous response with id '${value}' not found.`, {
      param: "previous_response_id",
      code: "previous_response_not_found",
    });
  return job.upstreamId;
}
