import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { LifecycleEvent } from "#shared/ports.ts";

/**
 * The outbox: lifecycle events come from the table's own change stream (DynamoDB Streams,
 * NEW_AND_OLD_IMAGES), not from the code that writes the job. A status write that commits is in
 * the stream, so its event is published even when the writer dies right after the write; the
 * stream is read at least once, so each event carries `eventId` (`<job id>:<version>`, the same
 * on every redelivery) for consumers to drop repeats.
 */

/** A stream record as both the Lambda event and the DynamoDB Streams API deliver it. */
export interface ChangeRecord {
  eventName?: string;
  dynamodb?: {
    NewImage?: Record<string, unknown>;
    OldImage?: Record<string, unknown>;
  };
}

const JOB_SORT_KEY = "JOB";

/** The lifecycle event a change carries: a new job, or a job whose status changed; else null. */
function lifecycleEventOf(record: ChangeRecord): LifecycleEvent | null {
  if (record.eventName !== "INSERT" && record.eventName !== "MODIFY") return null;
  const next = image(record.dynamodb?.NewImage);
  if (!next || next.sk !== JOB_SORT_KEY || typeof next.status !== "string") return null;
  const previous = record.eventName === "MODIFY" ? image(record.dynamodb?.OldImage) : null;
  const previousStatus = typeof previous?.status === "string" ? previous.status : null;
  if (previousStatus === next.status) return null;
  const jobId = String(next.id);
  return {
    eventId: `${jobId}:${Number(next.version)}`,
    jobId,
    tenantId: String(next.tenantId),
    status: next.status,
    previousStatus,
    upstreamId: typeof next.upstreamId === "string" ? next.upstreamId : null,
    model: String(next.model),
    // The time of the write that changed the status: the same on every redelivery of the record.
    at: Number(next.updatedAt),
    costUsd: typeof next.costUsd === "number" ? next.costUsd : null,
    error: (next.error as LifecycleEvent["error"]) ?? null,
    reason: ((next.endReason as { code?: string } | undefined)?.code as string | undefined) ?? null,
  };
}

export function lifecycleEventsOf(records: readonly ChangeRecord[]): LifecycleEvent[] {
  return records.map(lifecycleEventOf).filter((event): event is LifecycleEvent => event !== null);
}

/** The attributes an event is made of (not the whole item: metadata and the rest stay out). */
const EVENT_ATTRIBUTES = [
  "sk",
  "id",
  "tenantId",
  "status",
  "version",
  "model",
  "upstreamId",
  "costUsd",
  "error",
  "updatedAt",
];

function image(raw: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!raw) return null;
  // Picked before unmarshalling: a stream reader may hand an empty map over as `{}`, which the
  // unmarshaller refuses, and the event needs none of those attributes.
  const picked: Record<string, AttributeValue> = {};
  for (const name of EVENT_ATTRIBUTES) {
    const value = raw[name] as AttributeValue | undefined;
    if (value && Object.values(value).some((v) => v !== undefined)) picked[name] = value;
  }
  return unmarshall(picked);
}
