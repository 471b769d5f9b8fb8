import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { StoredBlobRef } from "#shared/domain/job.ts";
import { chunkPrefix, chunkSortKey, decodeBlob, encodeBlob } from "./blob-chunks.ts";
import { queryPages } from "./query-pages.ts";

/** Where a blob's chunk items live: a partition, and a sort-key prefix within it. */
export interface BlobHome {
  doc: DynamoDBDocumentClient;
  table: string;
  pk: string;
  prefix: string;
}

/**
 * Writes a JSON value as gzip chunk items beside its owner (`<prefix>#<sha16>#<n>`). BatchWrite
 * takes 25 items and 16 MB a call; chunks are ~350 KB, so 20 a call stays well inside. Items
 * DynamoDB leaves unprocessed are sent again with backoff.
 */
export async function putBlob(home: BlobHome, value: unknown, expiresAt: number): Promise<StoredBlobRef> {
  const { ref, chunks } = encodeBlob(value);
  const items = chunks.map((data, index) => ({
    pk: home.pk,
    sk: chunkSortKey(home.prefix, ref, index),
    data,
    expiresAt,
  }));
  for (let start = 0; start < items.length; start += 20) {
    let requests = items.slice(start, start + 20).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      const result = await home.doc.send(new BatchWriteCommand({ RequestItems: { [home.table]: requests } }));
      requests = (result.UnprocessedItems?.[home.table] ?? []) as typeof requests;
      if (requests.length && attempt >= 8) throw new Error(`DynamoDB kept leaving ${home.prefix} chunks unprocessed`);
      if (requests.length) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
  return ref;
}

/** Reads a blob back (strongly consistent) and checks it against its reference. */
export async function getBlob<T>(home: BlobHome, ref: StoredBlobRef): Promise<T> {
  const chunks: Uint8Array[] = [];
  for await (const items of queryPages(home.doc, {
    TableName: home.table,
    KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
    ExpressionAttributeValues: { ":pk": home.pk, ":prefix": chunkPrefix(home.prefix, ref) },
    ConsistentRead: true,
  }))
    for (const item of items) chunks.push(item.data as Uint8Array);
  return decodeBlob<T>(ref, chunks.slice(0, ref.chunks));
}

/**
 * The blob `ref` names, decoded from items already read with its partition (sorted by sort key,
 * as a query returns them); null when they do not hold all of its chunks.
 */
export function blobFromItems<T>(prefix: string, ref: StoredBlobRef, items: Record<string, unknown>[]): T | null {
  const start = chunkPrefix(prefix, ref);
  const chunks: Uint8Array[] = [];
  for (const item of items) if ((item.sk as string).startsWith(start)) chunks.push(item.data as Uint8Array);
  return chunks.length >= ref.chunks ? decodeBlob<T>(ref, chunks.slice(0, ref.chunks)) : null;
}
