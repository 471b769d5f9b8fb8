/**
 * Every key the relay writes to its single table, built here and nowhere else (the layout, item by
 * item, is documented in table-definition.ts). Sort keys that carry numbers are zero-padded so
 * DynamoDB's string order is numeric order.
 */
import type { Job } from "#shared/domain/job.ts";

export interface ItemKey {
  pk: string;
  sk: string;
}

export const jobPk = (jobId: string): string => `JOB#${jobId}`;
export const JOB_SK = "JOB";
export const jobKey = (jobId: string): ItemKey => ({ pk: jobPk(jobId), sk: JOB_SK });

/** Chunk prefixes of a job's blobs (blob-chunks.ts appends `#<sha256/16>#<n>`). */
export const REQUEST_BLOB = "REQ";
export const OUTPUT_BLOB = "OUT";
export const EVENT_BLOB = "EVB";
/**
 * The job item and its blobs sort together in the job's partition, JOB < OUT#… < REQ#…, and every
 * other item there (DLV#, EVB#, EVT#) sorts before JOB: one range query from JOB_SK to one of these
 * reads the job with its output (and request) chunks and nothing else of it.
 */
export const VIEW_RANGE_END = { output: `${OUTPUT_BLOB}#~`, request: `${REQUEST_BLOB}#~` } as const;

/** One webhook delivery attempt, beside its job. */
export const DELIVERY_PREFIX = "DLV#";
export const deliverySk = (attempt: number): string => `${DELIVERY_PREFIX}${String(attempt).padStart(5, "0")}`;

/** A batch of stream events, keyed by its first sequence number, beside its job. */
export const EVENT_PREFIX = "EVT#";
export const eventSk = (firstSeq: number): string => `${EVENT_PREFIX}${String(firstSeq).padStart(10, "0")}`;
/** Sorts after every event batch key: the upper bound of range queries. */
export const EVENT_END = `${EVENT_PREFIX}~`;

export const tenantPk = (tenantId: string): string => `TENANT#${tenantId}`;
export const tenantKey = (tenantId: string): ItemKey => ({ pk: tenantPk(tenantId), sk: "TENANT" });
/** The tenant index's sort key: newest first when read backwards, the id breaking ties. */
export const createdSk = (job: Pick<Job, "createdAt" | "id">): string =>
  `${String(job.createdAt).padStart(15, "0")}#${job.id}`;

/** A tenant's requests in one minute (the start of the minute, epoch ms). */
export const rateKey = (tenantId: string, windowStart: number): ItemKey => ({
  pk: `RATE#${tenantId}#${windowStart}`,
  sk: "RATE",
});
/** A tenant's held slots of one kind (pending jobs, streams, blocking waits): a map id -> until. */
export const slotsKey = (tenantId: string, kind: string): ItemKey => ({ pk: `SLOTS#${tenantId}#${kind}`, sk: "SLOTS" });
/** A tenant's recorded spend in one month, beside the tenant. */
export const spendKey = (tenantId: string, month: string): ItemKey => ({
  pk: tenantPk(tenantId),
  sk: `SPEND#${month}`,
});
/** An API key, by the SHA-256 of the key (the key itself is never stored). */
export const apiKeyKey = (keyHash: string): ItemKey => ({ pk: `KEY#${keyHash}`, sk: "KEY" });
export const idempotencyKey = (tenantId: string, key: string): ItemKey => ({
  pk: `IDEM#${tenantId}#${key}`,
  sk: "IDEM",
});
/** Which job a submit without an Idempotency-Key made (an SDK's automatic retry attaches to it). */
export const submitKey = (tenantId: string, bodyHash: string): ItemKey => ({
  pk: `SUBMIT#${tenantId}#${bodyHash}`,
  sk: "SUBMIT",
});
export const leaseKey = (name: string): ItemKey => ({ pk: `LEASE#${name}`, sk: "LEASE" });
/** A webhook endpoint's circuit breaker, by origin (shared/domain/endpoint-health.ts). */
export const endpointKey = (endpoint: string): ItemKey => ({ pk: `ENDPOINT#${endpoint}`, sk: "ENDPOINT" });
export const inboxKey = (webhookId: string): ItemKey => ({ pk: `INBOX#${webhookId}`, sk: "INBOX" });
/** When a verified OpenAI webhook last arrived (push-aware polling: shared/use-cases/poll-schedule.ts). */
export const PUSH_HEARD_KEY: ItemKey = { pk: "PUSH#openai", sk: "PUSH" };
/** The due index's partition: one per shard. */
export const dueShardKey = (shard: number): string => `DUE#${shard}`;
