import type { Job } from "#shared/domain/job.ts";
import { callerFields } from "#shared/domain/response-view.ts";
import type { StreamEvent } from "#shared/ports.ts";

type Json = Record<string, unknown>;

/**
 * A Response inside a stream event as callers see it: the upstream's snapshot with the relay's job
 * id (never the upstream's), the caller's own metadata (without the relay's tag) and the values
 * the caller set (`background`, `store`, `previous_response_id`).
 */
function relayResponse(response: Json, job: Job, request: Json): Json {
  const { output_text: _computed, ...rest } = response;
  return { ...rest, ...callerFields(job, request) };
}

export function relayEvent(event: StreamEvent, job: Job, request: Json): StreamEvent {
  const response = event.response;
  if (!response || typeof response !== "object") return event;
  return { ...event, response: relayResponse(response as Json, job, request) };
}
