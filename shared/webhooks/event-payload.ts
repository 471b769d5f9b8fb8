import { toUnixSeconds } from "#shared/clock.ts";
import type { Job } from "#shared/domain/job.ts";
import { canonicalJson } from "#shared/ids.ts";

/** Above this the Response is not inlined: the receiver gets the essentials and fetches the rest. */
const INLINE_LIMIT_BYTES = 64 * 1024;

/** OpenAI's four `response.*` webhook event types. */
export type WebhookEventType = "response.completed" | "response.failed" | "response.cancelled" | "response.incomplete";

const OPENAI_EVENT_TYPES: ReadonlySet<string> = new Set([
  "response.completed",
  "response.failed",
  "response.cancelled",
  "response.incomplete",
]);

/**
 * The event type a caller's webhook carries for a job's end. A job the relay ended itself (its
 * deadline passed, it sat queued too long) is, in OpenAI's terms, a cancelled response: the finer
 * reason is in `data.relay` and on the EventBridge bus.
 */
export function webhookEventType(eventType: string): WebhookEventType {
  return OPENAI_EVENT_TYPES.has(eventType) ? (eventType as WebhookEventType) : "response.cancelled";
}

/**
 * The webhook body: OpenAI's event envelope, so `client.webhooks.unwrap()` of the official SDKs
 * reads it as one of its own events: `{id: "evt_…", object: "event", type, created_at, data}`.
 * `data` is the Response object, or for large ones a thin version with the id, status, usage,
 * metadata and `relay.status_url`. Everything in it comes from the job as it ended and
 * `endedAtMs`, and keys are written sorted (a job read back from DynamoDB has its maps in another
 * order than the one just written), so every attempt of one delivery carries the same bytes.
 */
export function eventBody(eventType: string, job: Job, response: Record<string, unknown>, endedAtMs: number): string {
  const envelope = (data: Record<string, unknown>) =>
    canonicalJson({
      // One event per job's end, like the `webhook-id` (msg_…) it travels under.
      id: `evt_${job.id.slice("resp_".length)}`,
      object: "event",
      type: webhookEventType(eventType),
      created_at: toUnixSeconds(endedAtMs),
      data: { ...data, id: job.id },
    });
  const full = envelope(response);
  if (Buffer.byteLength(full) <= INLINE_LIMIT_BYTES) return full;
  const thin = {
    id: job.id,
    object: "response",
    status: response.status,
    model: response.model,
    created_at: response.created_at,
    completed_at: response.completed_at,
    usage: response.usage,
    error: response.error,
    incomplete_details: response.incomplete_details,
    metadata: response.metadata,
    // The output is too large to inline: GET the status URL for it.
    relay: { ...(response.relay as Record<string, unknown>), output_omitted: true },
  };
  return envelope(thin);
}
