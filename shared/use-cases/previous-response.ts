import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";

/**
 * `previous_response_id` names a relay job of the same tenant; the upstream knows that response by
 * its own id. An unknown id or another tenant's is refused as OpenAI refuses an id it does not
 * know, and so is a job with no upstream response (yet, or ever): there is nothing upstream to
 * continue from.
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
  const job = value.startsWith("resp_") && value.length <= 128 ? await deps.jobs.get(value) : null;
  if (!job || job.tenantId !== tenantId)
    throw new InvalidRequestError(`Previous response with id '${value.slice(0, 128)}' not found.`, {
      param: "previous_response_id",
      code: "previous_response_not_found",
    });
  if (!job.upstreamId)
    throw new InvalidRequestError(
      `Previous response with id '${value}' has no upstream response to continue from (it ${job.status === "queued" ? "is still being created" : `ended ${job.status} before reaching the upstream`}). Retry once it is queued or finished.`,
      { param: "previous_response_id", code: "previous_response_not_found" },
    );
  return job.upstreamId;
}
