/**
 * The one definition of the relay's DynamoDB table. CDK deploys it (cdk/) and the local harness
 * creates it in DynamoDB Local (local/dynamodb-local.ts), so keys, indexes and TTL never drift.
 *
 * Single-table layout (pk / sk), every key built in keys.ts. Numbers in sort keys are zero-padded;
 * blobs (gzip JSON cut into ~350 KB chunks, blob-chunks.ts) are keyed by their content hash, so two
 * writers racing with different contents never interleave chunks (docs/decisions/0004-chunked-blobs.md):
 *   JOB#<id>        JOB                  the hot job item: status, version, due-index keys (kept small)
 *   JOB#<id>        REQ#<sha256/16>#<n>  the forwarded request body (needed to (re)create upstream)
 *   JOB#<id>        OUT#<sha256/16>#<n>  the final Response (outputs can be megabytes; items stop at 400 KB)
 *   JOB#<id>        DLV#<attempt, 5>     one webhook delivery attempt
 *   JOB#<id>        EVT#<first seq, 10>  a batch of stream events from that sequence number on (inline
 *                                        gzip, or a pointer to EVB#<sha256/16>#<n> chunks if large)
 *   KEY#<sha256>    KEY                  an API key (hash only) -> tenant
 *   TENANT#<id>     TENANT               a tenant, its webhook signing secrets and limits
 *   TENANT#<id>     SPEND#<yyyy-mm>      its recorded spend that month (added to as each job ends)
 *   RATE#<tenant>#<minute> RATE          its requests in that minute (a counter, TTL a day)
 *   SLOTS#<tenant>#<kind> SLOTS          its held slots (pending jobs, streams, blocking waits): id -> until
 *   IDEM#<tenant>#<key> IDEM             an idempotency key -> job id and body hash
 *   LEASE#<name>    LEASE                a poller's lease on a due-index shard (due-<n>), or a stream
 *                                        writer's on a job (stream-<job>)
 *   INBOX#<id>      INBOX                an incoming webhook id already handled (OpenAI's, deduped)
 *   ENDPOINT#<origin> ENDPOINT           a webhook endpoint's circuit breaker (failures in a row, state)
 * In a job's partition JOB sorts before OUT# and REQ#, and DLV#, EVB#, EVT# before JOB, so a status
 * read gets the job item with its blobs in one range query (keys.ts VIEW_RANGE_END, decision 0013).
 * Index attributes on the job item: dueShard = DUE#<n> and dueAt (only while the job needs the
 * poller), tenantPk = TENANT#<id> and createdSk = <created ms, 15>#<id>, upstreamId.
 */
export const TABLE_ATTRIBUTES = {
  partitionKey: "pk",
  sortKey: "sk",
  ttl: "expiresAt",
} as const;

export interface IndexDefinition {
  name: string;
  partitionKey: string;
  sortKey: string;
  sortKeyType: "S" | "N";
  projection: "ALL" | "KEYS_ONLY" | "INCLUDE";
  /** With INCLUDE: the non-key attributes the index carries. */
  nonKeyAttributes?: string[];
}

/**
 * Sparse, sharded index of jobs that need the poller: only pending jobs carry `dueShard`, so the
 * index holds just the live work. `dueAt` is epoch ms. It carries `version` too, so a poller can
 * tell a job someone else changed (a cancel, OpenAI's webhook) from one it wrote itself.
 */
export const DUE_INDEX: IndexDefinition = {
  name: "due",
  partitionKey: "dueShard",
  sortKey: "dueAt",
  sortKeyType: "N",
  projection: "INCLUDE",
  nonKeyAttributes: ["version"],
};

/** A tenant's jobs, newest first: `tenantPk` = TENANT#<id>, `createdSk` = <created ms, padded>#<job id>. */
export const TENANT_INDEX: IndexDefinition = {
  name: "tenant",
  partitionKey: "tenantPk",
  sortKey: "createdSk",
  sortKeyType: "S",
  projection: "ALL",
};

/** Upstream response id -> job, for OpenAI's own webhooks (which carry only the upstream id). */
export const UPSTREAM_INDEX: IndexDefinition = {
  name: "upstream",
  partitionKey: "upstreamId",
  sortKey: "pk",
  sortKeyType: "S",
  projection: "KEYS_ONLY",
};

export const INDEXES: readonly IndexDefinition[] = [DUE_INDEX, TENANT_INDEX, UPSTREAM_INDEX];

/**
 * The table's change stream, the lifecycle-event outbox (shared/events/lifecycle-outbox.ts): old
 * and new images, so a status change is told from any other update.
 */
export const TABLE_STREAM_VIEW = "NEW_AND_OLD_IMAGES" as const;

/** CreateTable input for the SDK (local harness, tests). CDK builds the same from the constants above. */
export function createTableInput(tableName: string) {
  const attributeTypes = new Map<string, "S" | "N">([
    [TABLE_ATTRIBUTES.partitionKey, "S"],
    [TABLE_ATTRIBUTES.sortKey, "S"],
  ]);
  for (const index of INDEXES) {
    attributeTypes.set(index.partitionKey, "S");
    attributeTypes.set(index.sortKey, index.sortKeyType);
  }
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_STREAM_VIEW },
    KeySchema: [
      { AttributeName: TABLE_ATTRIBUTES.partitionKey, KeyType: "HASH" as const },
      { AttributeName: TABLE_ATTRIBUTES.sortKey, KeyType: "RANGE" as const },
    ],
    AttributeDefinitions: [...attributeTypes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    GlobalSecondaryIndexes: INDEXES.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" as const },
        { AttributeName: index.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: {
        ProjectionType: index.projection,
        ...(index.nonKeyAttributes ? { NonKeyAttributes: index.nonKeyAttributes } : {}),
      },
    })),
  };
}
