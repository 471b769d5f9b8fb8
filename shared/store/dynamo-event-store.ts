import { gunzipSync, gzipSync } from "node:zlib";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { StoredBlobRef } from "#shared/domain/job.ts";
import type { EventBatch, EventLog, StreamEvent } from "#shared/ports.ts";
import { getBlob, putBlob, type BlobHome } from "./blob-items.ts";
import { EVENT_BLOB, EVENT_END, EVENT_PREFIX, eventSk, jobPk } from "./keys.ts";

/**
 * Each job's stream, in the job's partition of the single table:
 *   JOB#<id>  EVT#<first seq, 10 digits>   a batch of consecutive events, gzip JSON (`data`), or a
 *                                          pointer (`blob`) to gzip chunks when the batch is large
 *   JOB#<id>  EVB#<sha256/16>#<n>          those chunks (content-addressed, like REQ#/OUT#)
 *
 * A batch is keyed by its first sequence number and written only if that key is free, and every
 * writer appends right after the newest batch it knows. Keys therefore form a chain with no
 * overlaps: two writers that raced for a slot find out at once, and the loser re-reads instead of
 * storing a different event under a number someone may already have been served.
 */
/** Inline batches stay well under DynamoDB's 400 KB item limit; larger ones go to chunks. */
const INLINE_BYTES = 300_000;

export interface DynamoEventLogOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  retentionDays?: number;
  /** Clock for the TTL attribute (tests inject time). */
  now?: () => number;
}

export class DynamoEventLog implements EventLog {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #retentionSeconds: number;
  readonly #now: () => number;

  constructor(options: DynamoEventLogOptions) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#retentionSeconds = (options.retentionDays ?? 30) * 86_400;
    this.#now = options.now ?? Date.now;
  }

  async last(jobId: string): Promise<EventBatch | null> {
    const page = await this.#doc.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues: { ":pk": jobPk(jobId), ":lo": EVENT_PREFIX, ":hi": EVENT_END },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = page.Items?.[0];
    return item ? this.#decode(jobId, item) : null;
  }

  async read(jobId: string, afterSeq: number): Promise<EventBatch[]> {
    const batches: EventBatch[] = [];
    let from = EVENT_PREFIX;
    if (afterSeq >= 0) {
      // The batch holding afterSeq + 1 is the newest one starting at or before it.
      const holder = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :lo AND :hi",
          ExpressionAttributeValues: { ":pk": jobPk(jobId), ":lo": EVENT_PREFIX, ":hi": eventSk(afterSeq + 1) },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      );
      const item = holder.Items?.[0];
      if (item) {
        const batch = await this.#decode(jobId, item);
        if (batch.first + batch.events.length - 1 > afterSeq || batch.end) batches.push(batch);
        if (batch.end) return batches;
        // Fixed-width keys: appending "!" sorts right after this key and before the next one.
        from = `${item.sk as string}!`;
      }
    }
    const page = await this.#doc.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "pk = :pk AND sk BETWEEN :lo AND :hi",
        ExpressionAttributeValues: { ":pk": jobPk(jobId), ":lo": from, ":hi": EVENT_END },
        ConsistentRead: true,
      }),
    );
    for (const item of page.Items ?? []) batches.push(await this.#decode(jobId, item));
    return batches;
  }

  #blobs(jobId: string): BlobHome {
    return { doc: this.#doc, table: this.#table, pk: jobPk(jobId), prefix: EVENT_BLOB };
  }

  async append(jobId: string, batch: EventBatch): Promise<boolean> {
    const expiresAt = Math.floor(this.#now() / 1000) + this.#retentionSeconds;
    const packed = gzipSync(JSON.stringify(batch.events), { level: 6 });
    const item: Record<string, unknown> = {
      pk: jobPk(jobId),
      sk: eventSk(batch.first),
      first: batch.first,
      count: batch.events.length,
      expiresAt,
      ...(batch.upstreamCursor !== null ? { upstreamCursor: batch.upstreamCursor } : {}),
      ...(batch.end ? { end: batch.end } : {}),
    };
    if (packed.length <= INLINE_BYTES) item.data = packed;
    // The chunks go first: if the batch below loses its slot they are orphans that TTL removes.
    else item.blob = await putBlob(this.#blobs(jobId), batch.events, expiresAt);
    try {
      await this.#doc.send(
        new PutCommand({ TableName: this.#table, Item: item, ConditionExpression: "attribute_not_exists(pk)" }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async #decode(jobId: string, item: Record<string, unknown>): Promise<EventBatch> {
    const events = item.blob
      ? await getBlob<StreamEvent[]>(this.#blobs(jobId), item.blob as StoredBlobRef)
      : (JSON.parse(gunzipSync(item.data as Uint8Array).toString("utf8")) as StreamEvent[]);
    return {
      first: item.first as number,
      events,
      upstreamCursor: typeof item.upstreamCursor === "number" ? item.upstreamCursor : null,
      end: (item.end as { status: string } | undefined) ?? null,
    };
  }
}
