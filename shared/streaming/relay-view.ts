import type { Job } from "#shared/domain/job.ts";
import { toResponseObject } from "#shared/domain/response-view.ts";
import type { StreamEvent } from "#shared/ports.ts";

type Json = Record<string, unknown>;

/**
 * A Response inside a stream event as callers see it: the relay's job id (never the upstream's)
 * and the caller's own metadata (without the relay's tag).
 */
export function relayResponse(response: Json, job: Pick<Job, "id" | "metadata">): Json {
  return { ...response, id: job.id, metadata: job.metadata };
}

export function relayEvent(event: StreamEvent, job: Pick<Job, "id" | "metadata">): StreamEvent {
  const response = event.response;
  if (!response || typeof response !== "object") return event;
  return { ...event, response: relayResponse(response as Json, job) };
}

/**
 * The final Response a stream ends with: the upstream's when there is one, else the job as the
 * status URL shows it (a job that ended before the upstream ever answered), in wire form.
 */
export function finalResponse(job: Job, upstream: Json | null): Json {
  if (upstream) return relayResponse(upstream, job);
  const { relay: _relay, output_text: _text, ...wire } = toResponseObject(job, null, "");
  return wire;
}
