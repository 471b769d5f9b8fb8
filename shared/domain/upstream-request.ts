import { JOB_ID_METADATA_KEY, type Job } from "./job.ts";

/** OpenAI's limit on metadata pairs, which the caller may use in full. */
export const MAX_METADATA_PAIRS = 16;

/**
 * Whether the upstream create of a job with this caller metadata carries the job id tag: only
 * when the caller left one of the slots free (and did not use the key itself). Without it, a
 * response whose create answer was lost cannot be traced back to its job.
 */
export function carriesJobTag(metadata: Readonly<Record<string, string>>): boolean {
  return Object.keys(metadata).length < MAX_METADATA_PAIRS && !Object.hasOwn(metadata, JOB_ID_METADATA_KEY);
}

/**
 * The body the relay sends upstream for a caller's request: always background and stored (that
 * is what makes it durable), `previous_response_id` translated from the relay's job id to the
 * upstream's, and the job id tagged in metadata when a slot is free. `stream` asks the upstream to
 * stream the create, so the relay can watch the response live (and stream it to callers later).
 */
export function upstreamBody(
  request: Record<string, unknown>,
  job: Pick<Job, "id" | "previousUpstreamId">,
  options: { stream: boolean },
): Record<string, unknown> {
  const { stream: _stream, background: _background, store: _store, previous_response_id: _previous, ...rest } = request;
  const metadata = { ...((request.metadata as Record<string, string> | null | undefined) ?? {}) };
  // The job id tag costs the caller nothing: it is added only when the caller left a slot free.
  if (carriesJobTag(metadata)) metadata[JOB_ID_METADATA_KEY] = job.id;
  return {
    ...rest,
    background: true,
    store: true,
    metadata,
    ...(job.previousUpstreamId ? { previous_response_id: job.previousUpstreamId } : {}),
    ...(options.stream ? { stream: true } : {}),
  };
}
