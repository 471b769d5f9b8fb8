import { InvalidRequestError, UpstreamRejectedError } from "#shared/errors.ts";
import type { Deps, InputTokenCount } from "#shared/ports.ts";
import { upstreamIdOfPrevious } from "./previous-response.ts";

/**
 * `POST /v1/responses/input_tokens`, counted by the upstream (only it knows its tokenizer and what
 * a previous response carries). The body goes through as the caller sent it, with a relay job id in
 * `previous_response_id` translated to the upstream's; an upstream error naming that id names the
 * job instead, so upstream ids never reach the caller.
 */
export async function countInputTokens(
  tenantId: string,
  body: unknown,
  deps: Pick<Deps, "jobs" | "upstream">,
): Promise<InputTokenCount> {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new InvalidRequestError("The request body must be a JSON object.", { code: "invalid_type" });
  const forwarded: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const previous = forwarded.previous_response_id;
  let upstreamId: string | null = null;
  if (previous !== undefined && previous !== null) {
    upstreamId = await upstreamIdOfPrevious(tenantId, previous, deps);
    forwarded.previous_response_id = upstreamId;
  }
  try {
    return await deps.upstream.countInputTokens(forwarded);
  } catch (error) {
    if (!(upstreamId && error instanceof UpstreamRejectedError && error.message.includes(upstreamId))) throw error;
    throw new UpstreamRejectedError(error.message.replaceAll(upstreamId, previous as string), {
      status: error.status,
      type: error.type,
      code: error.code,
      param: error.param,
    });
  }
}
