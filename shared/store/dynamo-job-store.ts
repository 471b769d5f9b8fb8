import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { EMPTY_JOB_FIELDS, type Job, type StoredBlobRef } from "#shared/domain/job.ts";
import { IdempotencyInProgressError, VersionConflictError } from "#shared/errors.ts";
import { sha256Hex } from "#shared/ids.ts";
import type { CreateJobResult, DueEntry, IdempotencyClaim, JobListPage, JobStore } from "#shared/ports.ts";
import { getBlob, putBlob, type BlobHome } from "./blob-items.ts";
import { DUE_INDEX, TENANT_INDEX, UPSTREAM_INDEX } from "./table-definition.ts";

const JOB_SK = "JOB";
const jobPk = (id: string) => `JOB#${id}`;
const tenantPk = (tenantId: string) => `TENANT#${tenantId}`;
const claimKey = (claim: IdempotencyClaim) => ({ pk: `IDEM#${claim.tenantId}#${claim.key}`, sk: "IDEM" });
const createdSk = (job: Pick<Job, "createdAt" | "id">) => `${String(job.createdAt).padStart(15, "0")}#${job.id}`;
/** Keys and index attributes the store owns; never part of the Job the rest of the code sees. */
const STORE_ATTRIBUTES = ["pk", "sk", "dueShard", "dueAt", "tenantPk", "createdSk", "expiresAt"] as const;

export interface DynamoJobStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Shards of the due index (spreads the poller's hot partition). */
  shards?: number;
  retentionDays?: number;
}

/**
 * Jobs in the single table. Every update is conditional on the version the caller read (fencing),
 * SDK errors become domain errors here, and null fields are removed rather than stored, so sparse
 * index keys (`upstreamId`, `dueShard`) simply disappear.
 */
export class DynamoJobStore implements JobStore {
  readonly shards: number;
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;

  constructor(options: DynamoJobStoreOptions) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.shards = options.shards ?? 8;
    this.#retentionSeconds = (options.retentionDays ?? 30) * 86_400;
  }

  #blobs(jobId: string, prefix: string): BlobHome {
    return { doc: this.#doc, table: this.#table, pk: jobPk(jobId), prefix };
  }

  shardOf(id: string): number {
    let hash = 0;
    for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) >>> 0;
    return hash % this.shards;
  }

  async create(
    job: Job,
    request: Record<string, unknown>,
    dueAt: number,
    claim?: IdempotencyClaim,
  ): Promise<CreateJobResult> {
    const expiresAt = Math.floor(job.createdAt / 1000) + this.#retentionSeconds;
    // A replay (the key is already claimed) stores nothing: the body was kept by the first request.
    if (claim) {
      const existing = await this.#liveClaim(claimKey(claim), job.createdAt);
      if (existing) return existing;
    }
    // The request goes first: if the claim below loses, these chunks are orphans that TTL removes.
    const requestRef = await putBlob(this.#blobs(job.id, "REQ"), request, expiresAt);
    const stored: Job = { ...job, request: requestRef };
    const jobItem = {
      ...withoutNulls(stored),
      pk: jobPk(job.id),
      sk: JOB_SK,
      tenantPk: tenantPk(job.tenantId),
      createdSk: createdSk(job),
      dueShard: `DUE#${this.shardOf(job.id)}`,
      dueAt,
      expiresAt,
    };
    const putJob = { Put: { TableName: this.#table, Item: jobItem, ConditionExpression: "attribute_not_exists(pk)" } };
    // The token makes the SDK's own retry of a transaction whose reply was lost a no-op, instead
    // of a condition failure on our own writes.
    const ClientRequestToken = sha256Hex(job.id).slice(0, 36);
    if (!claim) {
      await this.#doc.send(new TransactWriteCommand({ TransactItems: [putJob], ClientRequestToken }));
      return { created: true, job: stored };
    }
    const idemKey = claimKey(claim);
    // Real DynamoDB cancels a transaction that races another on the same item
    // (TransactionConflict) before the winner is readable: look a few times, then say "in progress".
    for (let attempt = 0; ; attempt++) {
      // A fresh token per try: each try is a new request; the SDK's retries of one try share it.
      const outcome = await this.#claimOnce(
        idemKey,
        claim,
        putJob,
        sha256Hex(`${job.id}#${attempt}`).slice(0, 36),
        job.createdAt,
      );
      if (outcome) return outcome.created ? { created: true, job: stored } : outcome;
      if (attempt >= 3)
        throw new IdempotencyInProgressError(
          "A request with this Idempotency-Key is still being processed; retry shortly.",
          { param: "Idempotency-Key", code: "idempotency_key_in_use" },
        );
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }

  /** One try at the job + claim transaction; null when it lost a race whose winner is not visible yet. */
  async #claimOnce(
    idemKey: { pk: string; sk: string },
    claim: IdempotencyClaim,
    putJob: { Put: Record<string, unknown> },
    ClientRequestToken: string,
    createdAt: number,
  ): Promise<{ created: true } | { created: false; existingJobId: string; bodyHash: string } | null> {
    try {
      await this.#doc.send(
        new TransactWriteCommand({
          ClientRequestToken,
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: {
                  ...idemKey,
                  jobId: (putJob.Put.Item as { id: string }).id,
                  bodyHash: claim.bodyHash,
                  expiresAt: claim.expiresAt,
                },
                // TTL deletion is lazy (up to days): an expired claim is free to take again.
                ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
                ExpressionAttributeValues: { ":now": Math.floor(createdAt / 1000) },
              },
            },
            putJob as never,
          ],
        }),
      );
      return { created: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      return this.#liveClaim(idemKey, createdAt);
    }
  }

  /** The unexpired claim on an Idempotency-Key, read strongly consistent; null when there is none. */
  async #liveClaim(
    idemKey: { pk: string; sk: string },
    nowMs: number,
  ): Promise<{ created: false; existingJobId: string; bodyHash: string } | null> {
    const existing = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: idemKey, ConsistentRead: true }),
    );
    if (!existing.Item || existing.Item.expiresAt < Math.floor(nowMs / 1000)) return null;
    return { created: false, existingJobId: existing.Item.jobId as string, bodyHash: existing.Item.bodyHash as string };
  }

  async get(id: string): Promise<Job | null> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: { pk: jobPk(id), sk: JOB_SK }, ConsistentRead: true }),
    );
    return Item ? toJob(Item) : null;
  }

  async getRequest(job: Job): Promise<Record<string, unknown>> {
    return getBlob(this.#blobs(job.id, "REQ"), job.request);
  }

  async getOutput(job: Job): Promise<Record<string, unknown> | null> {
    return job.output ? getBlob(this.#blobs(job.id, "OUT"), job.output) : null;
  }

  async putOutput(
    jobId: string,
    response: Record<string, unknown>,
    nowMs: number = Date.now(),
  ): Promise<StoredBlobRef> {
    const expiresAt = Math.floor(nowMs / 1000) + this.#retentionSeconds;
    return putBlob(this.#blobs(jobId, "OUT"), response, expiresAt);
  }

  async update(job: Job, changes: Partial<Job>, dueAt?: number | null): Promise<Job> {
    const next: Job = { ...job, ...changes, version: job.version + 1 };
    const set: string[] = ["#version = :next"];
    const remove: string[] = [];
    const names: Record<string, string> = { "#version": "version" };
    const values: Record<string, unknown> = { ":next": next.version, ":expected": job.version };
    let i = 0;
    for (const [key, value] of Object.entries(changes)) {
      if (key === "version" || key === "id") continue;
      const name = `#a${i}`;
      names[name] = key;
      if (value === null || value === undefined) remove.push(name);
      else {
        set.push(`${name} = :v${i}`);
        values[`:v${i}`] = value;
      }
      i++;
    }
    if (dueAt === null) remove.push("dueShard", "dueAt");
    else if (dueAt !== undefined) {
      set.push("dueShard = :shard", "dueAt = :due");
      values[":shard"] = `DUE#${this.shardOf(job.id)}`;
      values[":due"] = dueAt;
    }
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: jobPk(job.id), sk: JOB_SK },
          UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
          ConditionExpression: "#version = :expected",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new VersionConflictError(`job ${job.id} changed since version ${job.version}`, { cause: error });
      }
      throw error;
    }
    return next;
  }

  async list(tenantId: string, options: { status?: string; limit: number; after?: string }): Promise<JobListPage> {
    let startKey: Record<string, unknown> | undefined;
    if (options.after) {
      const after = await this.get(options.after);
      if (!after || after.tenantId !== tenantId) return { jobs: [], hasMore: false };
      startKey = { pk: jobPk(after.id), sk: JOB_SK, tenantPk: tenantPk(tenantId), createdSk: createdSk(after) };
    }
    const jobs: Job[] = [];
    // A status filter is applied after the read, so keep reading pages until the page is full.
    for (;;) {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: TENANT_INDEX.name,
          KeyConditionExpression: "tenantPk = :t",
          ExpressionAttributeValues: { ":t": tenantPk(tenantId), ...(options.status ? { ":s": options.status } : {}) },
          ...(options.status
            ? { FilterExpression: "#status = :s", ExpressionAttributeNames: { "#status": "status" } }
            : {}),
          ScanIndexForward: false,
          Limit: options.limit + 1,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) jobs.push(toJob(item));
      if (jobs.length > options.limit) return { jobs: jobs.slice(0, options.limit), hasMore: true };
      if (!page.LastEvaluatedKey) return { jobs, hasMore: false };
      startKey = page.LastEvaluatedKey;
    }
  }

  async queryDue(shard: number, fromMs: number, toMs: number): Promise<DueEntry[]> {
    const entries: DueEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: DUE_INDEX.name,
          KeyConditionExpression: "dueShard = :shard AND dueAt BETWEEN :from AND :to",
          ExpressionAttributeValues: { ":shard": `DUE#${shard}`, ":from": fromMs, ":to": toMs },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? [])
        entries.push({
          id: (item.pk as string).slice(4),
          dueAt: item.dueAt as number,
          version: item.version as number,
        });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }

  async findByUpstreamId(upstreamId: string): Promise<Job | null> {
    const page = await this.#doc.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: UPSTREAM_INDEX.name,
        KeyConditionExpression: "upstreamId = :u",
        ExpressionAttributeValues: { ":u": upstreamId },
        Limit: 1,
      }),
    );
    const key = page.Items?.[0];
    return key ? this.get((key.pk as string).slice(4)) : null;
  }
}

function withoutNulls(job: Job): Record<string, unknown> {
  return Object.fromEntries(Object.entries(job).filter(([, value]) => value !== null && value !== undefined));
}

function toJob(item: Record<string, unknown>): Job {
  const job: Record<string, unknown> = { ...EMPTY_JOB_FIELDS, ...item };
  for (const key of STORE_ATTRIBUTES) delete job[key];
  return job as unknown as Job;
}
