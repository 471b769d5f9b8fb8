import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { EMPTY_JOB_FIELDS, isTerminal, type Job, type StoredBlobRef } from "#shared/domain/job.ts";
import { shownRequest } from "#shared/domain/response-view.ts";
import { monthOf, toMicros } from "#shared/domain/tenant-limits.ts";
import { IdempotencyInProgressError, VersionConflictError } from "#shared/errors.ts";
import { sha256Hex } from "#shared/ids.ts";
import type {
  CreateJobResult,
  DueEntry,
  IdempotencyClaim,
  JobListPage,
  JobStore,
  JobView,
  Refusal,
} from "#shared/ports.ts";
import { blobFromItems, getBlob, putBlob, type BlobHome } from "./blob-items.ts";
import { queryPages } from "./query-pages.ts";
import { ViewCache } from "./view-cache.ts";
import { DUE_INDEX, TENANT_INDEX, UPSTREAM_INDEX } from "./table-definition.ts";
import {
  createdSk,
  dueShardKey,
  idempotencyKey,
  submitKey,
  JOB_SK,
  jobKey,
  jobPk,
  OUTPUT_BLOB,
  REQUEST_BLOB,
  slotsKey,
  spendKey,
  tenantPk,
  VIEW_RANGE_END,
} from "./keys.ts";

const claimKey = (claim: IdempotencyClaim) => idempotencyKey(claim.tenantId, claim.key);
/** Keys and index attributes the store owns; never part of the Job the rest of the code sees. */
const STORE_ATTRIBUTES = ["pk", "sk", "dueShard", "dueAt", "tenantPk", "createdSk", "expiresAt"] as const;

export interface DynamoJobStoreOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  /** Shards of the due index (spreads the poller's hot partition). */
  shards?: number;
  retentionDays?: number;
  /** What status reads keep per process (view-cache.ts; its bounds by default). */
  viewCache?: ViewCache;
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
  readonly #views: ViewCache;

  constructor(options: DynamoJobStoreOptions) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.shards = options.shards ?? 8;
    this.#retentionSeconds = (options.retentionDays ?? 30) * 86_400;
    this.#views = options.viewCache ?? new ViewCache();
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
    const requestRef = await putBlob(this.#blobs(job.id, REQUEST_BLOB), request, expiresAt);
    // This instance has the request at hand: its status reads of the job need not read it back.
    // As a status read would decode it (a JSON copy, never the caller's objects); if the job is
    // not made after all, no job item ever names it.
    const shown = JSON.stringify(shownRequest(request));
    this.#views.set(job.id, "request", requestRef.sha256, JSON.parse(shown), shown.length);
    const stored: Job = { ...job, request: requestRef };
    const jobItem = {
      ...withoutNulls(stored),
      pk: jobPk(job.id),
      sk: JOB_SK,
      tenantPk: tenantPk(job.tenantId),
      createdSk: createdSk(job),
      dueShard: dueShardKey(this.shardOf(job.id)),
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
  ): Promise<{ created: true } | Extract<CreateJobResult, { created: false }> | null> {
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
  ): Promise<Extract<CreateJobResult, { created: false }> | null> {
    const existing = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: idemKey, ConsistentRead: true }),
    );
    if (!existing.Item || existing.Item.expiresAt < Math.floor(nowMs / 1000)) return null;
    return {
      created: false,
      existingJobId: existing.Item.jobId as string,
      bodyHash: existing.Item.bodyHash as string,
      refusal: (existing.Item.refusal as Refusal | undefined) ?? null,
    };
  }

  async get(id: string): Promise<Job | null> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: jobKey(id), ConsistentRead: true }),
    );
    return Item ? toJob(Item) : null;
  }

  async getRequest(job: Job): Promise<Record<string, unknown>> {
    return getBlob(this.#blobs(job.id, REQUEST_BLOB), job.request);
  }

  async getShownRequest(job: Job): Promise<Readonly<Record<string, unknown>>> {
    return this.#viewed(job, "request", REQUEST_BLOB, job.request, [], shownRequest);
  }

  async getOutput(job: Job): Promise<Record<string, unknown> | null> {
    return job.output ? getBlob(this.#blobs(job.id, OUTPUT_BLOB), job.output) : null;
  }

  async getForView(id: string, tenantId: string): Promise<JobView | null> {
    const views = this.#views;
    let job: Job | null;
    let items: Record<string, unknown>[] = [];
    // Both kept here: the job item alone. Otherwise the job item with the chunks of what is not
    // kept, in one query (keys.ts VIEW_RANGE_END): the request's only on a first read here, and
    // the output's (none while the job runs) until there is one to keep.
    if (views.has(id, "request") && views.has(id, "output")) job = await this.get(id);
    else {
      items = await this.#readRange(id, views.has(id, "request") ? VIEW_RANGE_END.output : VIEW_RANGE_END.request);
      const item = items[0]?.sk === JOB_SK ? items[0] : undefined;
      job = item ? toJob(item) : null;
    }
    if (!job || job.tenantId !== tenantId) return null;
    const found = job;
    const [request, output] = await Promise.all([
      this.#viewed(found, "request", REQUEST_BLOB, found.request, items, shownRequest),
      found.output ? this.#viewed(found, "output", OUTPUT_BLOB, found.output, items, (output) => output) : null,
    ]);
    return { job: found, request, output };
  }

  /** The job's items from its JOB item up to `end`, strongly consistent, every page. */
  async #readRange(id: string, end: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for await (const page of queryPages(this.#doc, {
      TableName: this.#table,
      KeyConditionExpression: "pk = :pk AND sk BETWEEN :job AND :end",
      ExpressionAttributeValues: { ":pk": jobPk(id), ":job": JOB_SK, ":end": end },
      ConsistentRead: true,
    }))
      items.push(...page);
    return items;
  }

  /** A blob of the job as a status read shows it: kept here, or decoded from `items` (read again if they lack it). */
  async #viewed(
    job: Job,
    kind: "request" | "output",
    prefix: string,
    ref: StoredBlobRef,
    items: Record<string, unknown>[],
    view: (value: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const kept = this.#views.get(job.id, kind, ref.sha256);
    if (kept) return kept;
    const value = view(
      blobFromItems<Record<string, unknown>>(prefix, ref, items) ??
        (await getBlob<Record<string, unknown>>(this.#blobs(job.id, prefix), ref)),
    );
    this.#views.set(job.id, kind, ref.sha256, value, kind === "output" ? ref.bytes : JSON.stringify(value).length);
    return value;
  }

  async putOutput(
    jobId: string,
    response: Record<string, unknown>,
    nowMs: number = Date.now(),
  ): Promise<StoredBlobRef> {
    const expiresAt = Math.floor(nowMs / 1000) + this.#retentionSeconds;
    return putBlob(this.#blobs(jobId, OUTPUT_BLOB), response, expiresAt);
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
      values[":shard"] = dueShardKey(this.shardOf(job.id));
      values[":due"] = dueAt;
    }
    const jobUpdate = {
      TableName: this.#table,
      Key: jobKey(job.id),
      UpdateExpression: `SET ${set.join(", ")}${remove.length ? ` REMOVE ${remove.join(", ")}` : ""}`,
      ConditionExpression: "#version = :expected",
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    if (!isTerminal(job.status) && isTerminal(next.status)) {
      await this.#endTogether(job, next, jobUpdate);
      return next;
    }
    try {
      await this.#doc.send(new UpdateCommand(jobUpdate));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new VersionConflictError(`job ${job.id} changed since version ${job.version}`, { cause: error });
      }
      throw error;
    }
    return next;
  }

  /**
   * The write that ends a job also, in one transaction, adds its cost to the tenant's month
   * (or flags it unpriced) and frees its pending-job slot: the counters can never disagree with
   * the jobs. Retried on a TransactionConflict (another job of the tenant ending at that moment).
   */
  async #endTogether(job: Job, next: Job, jobUpdate: Record<string, unknown>): Promise<void> {
    const items: Record<string, unknown>[] = [{ Update: jobUpdate }];
    const month = monthOf(next.updatedAt);
    const spend = spendOf(next);
    if (spend)
      items.push({
        Update: {
          TableName: this.#table,
          Key: spendKey(job.tenantId, month),
          UpdateExpression: `ADD ${Object.keys(spend)
            .map((name) => `${name} :${name}`)
            .join(", ")} SET expiresAt = if_not_exists(expiresAt, :exp)`,
          ExpressionAttributeValues: {
            ...Object.fromEntries(Object.entries(spend).map(([name, value]) => [`:${name}`, value])),
            // Kept a good year: long enough to read last month's (and last year's) spend.
            ":exp": Math.floor(next.updatedAt / 1000) + 400 * 86_400,
          },
        },
      });
    items.push({
      Update: {
        TableName: this.#table,
        Key: slotsKey(job.tenantId, "jobs"),
        UpdateExpression: "REMOVE #slots.#id",
        ExpressionAttributeNames: { "#slots": "slots", "#id": job.id },
      },
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#doc.send(
          new TransactWriteCommand({
            TransactItems: items as never,
            ClientRequestToken: sha256Hex(`${job.id}#${job.version}#${attempt}`).slice(0, 36),
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === "ConditionalCheckFailed")
          throw new VersionConflictError(`job ${job.id} changed since version ${job.version}`, { cause: error });
        if (attempt >= 6 || !reasons.some((r) => r.Code === "TransactionConflict")) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt * (0.5 + Math.random())));
      }
    }
  }

  async list(tenantId: string, options: { status?: string; limit: number; after?: string }): Promise<JobListPage> {
    let startKey: Record<string, unknown> | undefined;
    if (options.after) {
      const after = await this.get(options.after);
      if (!after || after.tenantId !== tenantId) return { jobs: [], hasMore: false };
      startKey = { ...jobKey(after.id), tenantPk: tenantPk(tenantId), createdSk: createdSk(after) };
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
    for await (const page of queryPages(this.#doc, {
      TableName: this.#table,
      IndexName: DUE_INDEX.name,
      KeyConditionExpression: "dueShard = :shard AND dueAt BETWEEN :from AND :to",
      ExpressionAttributeValues: { ":shard": dueShardKey(shard), ":from": fromMs, ":to": toMs },
    }))
      for (const item of page)
        entries.push({
          id: (item.pk as string).slice(4),
          dueAt: item.dueAt as number,
          version: item.version as number,
        });
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

  async delete(job: Job): Promise<void> {
    await this.#doc.send(new DeleteCommand({ TableName: this.#table, Key: { pk: jobPk(job.id), sk: JOB_SK } }));
    // A job deleted before it ended frees its pending-job slot (an ended one freed it then).
    if (!isTerminal(job.status))
      await this.#doc
        .send(
          new UpdateCommand({
            TableName: this.#table,
            Key: slotsKey(job.tenantId, "jobs"),
            UpdateExpression: "REMOVE #slots.#id",
            ConditionExpression: "attribute_exists(#slots)",
            ExpressionAttributeNames: { "#slots": "slots", "#id": job.id },
          }),
        )
        .catch((error) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    if (job.idempotencyKey) {
      // Only while the claim still names this job (an expired claim may have been taken again).
      await this.#doc
        .send(
          new DeleteCommand({
            TableName: this.#table,
            Key: idempotencyKey(job.tenantId, job.idempotencyKey),
            ConditionExpression: "jobId = :id",
            ExpressionAttributeValues: { ":id": job.id },
          }),
        )
        .catch((error) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    }
    // Everything else lives in the job's partition: REQ#, OUT#, EVT#, EVB#, DLV# items.
    for await (const page of queryPages(this.#doc, {
      TableName: this.#table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": jobPk(job.id) },
      ProjectionExpression: "pk, sk",
      ConsistentRead: true,
    })) {
      const keys = page.map((item) => ({ pk: item.pk, sk: item.sk }));
      for (let start = 0; start < keys.length; start += 25) await this.#deleteKeys(keys.slice(start, start + 25));
    }
  }

  /** One BatchWrite of up to 25 deletes, resending what DynamoDB leaves unprocessed. */
  async #deleteKeys(keys: Record<string, unknown>[]): Promise<void> {
    let requests = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      const result = await this.#doc.send(new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }));
      requests = (result.UnprocessedItems?.[this.#table] ?? []) as typeof requests;
      if (requests.length && attempt >= 8) throw new Error("DynamoDB kept leaving job items undeleted");
      if (requests.length) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }

  async recordRefusal(claim: IdempotencyClaim, jobId: string, refusal: Refusal): Promise<void> {
    await this.#doc
      .send(
        new UpdateCommand({
          TableName: this.#table,
          Key: claimKey(claim),
          UpdateExpression: "SET refusal = :r",
          ConditionExpression: "jobId = :id",
          ExpressionAttributeValues: { ":r": withoutUndefined(refusal), ":id": jobId },
        }),
      )
      .catch((error) => {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      });
  }

  async rememberSubmit(tenantId: string, bodyHash: string, jobId: string, expiresAt: number): Promise<void> {
    await this.#doc.send(
      new PutCommand({ TableName: this.#table, Item: { ...submitKey(tenantId, bodyHash), jobId, expiresAt } }),
    );
  }

  async recallSubmit(tenantId: string, bodyHash: string): Promise<string | null> {
    const { Item } = await this.#doc.send(
      new GetCommand({ TableName: this.#table, Key: submitKey(tenantId, bodyHash), ConsistentRead: true }),
    );
    // TTL deletion is lazy: an expired note is no note.
    return Item && (Item.expiresAt as number) >= Math.floor(Date.now() / 1000) ? (Item.jobId as string) : null;
  }
}

/** What an ended job adds to its tenant's month: its cost, or its tokens when it has no price. */
function spendOf(job: Job): Record<string, number> | null {
  if (job.costUsd !== null) return { costMicros: toMicros(job.costUsd), pricedJobs: 1 };
  if (!job.usage) return null;
  return {
    unpricedJobs: 1,
    unpricedInputTokens: job.usage.input_tokens ?? 0,
    unpricedOutputTokens: job.usage.output_tokens ?? 0,
  };
}

const withoutUndefined = (value: object) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));

function withoutNulls(job: Job): Record<string, unknown> {
  return Object.fromEntries(Object.entries(job).filter(([, value]) => value !== null && value !== undefined));
}

function toJob(item: Record<string, unknown>): Job {
  const job: Record<string, unknown> = { ...EMPTY_JOB_FIELDS, ...item };
  for (const key of STORE_ATTRIBUTES) delete job[key];
  return job as unknown as Job;
}
