import type { Job } from "#shared/domain/job.ts";

/** Above this the Response is not inlined: the receiver gets the essentials and fetches the rest. */
const INLINE_LIMIT_BYTES = 64 * 1024;

/**
 * The event body a caller's webhook receives: `{type, timestamp, data}`. `data` is the Response
 * object, or for large ones a thin version with the id, status, usage and the status URL.
 */
export function eventBody(eventType: string, job: Job, response: Record<string, unknown>, timestampMs: number): string {
  const full = JSON.stringify({ type: eventType, timestamp: new Date(timestampMs).toISOString(), data: response });
  if (Buffer.byteLength(full) <= INLINE_LIMIT_BYTES) return full;
  const relay = response.relay as Record<string, unknown>;
  const thin = {
    id: job.id,
    object: "response",
    status: job.status,
    model: job.model,
    created_at: response.created_at,
    completed_at: response.completed_at,
    usage: job.usage,
    error: job.error,
    incomplete_details: job.incompleteDetails,
    metadata: job.metadata,
    // The output is too large to inline: GET the status URL for it.
    output_omitted: true,
    relay,
  };
  return JSON.stringify({ type: eventType, timestamp: new Date(timestampMs).toISOString(), data: thin });
}
