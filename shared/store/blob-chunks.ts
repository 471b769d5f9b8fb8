import { gunzipSync, gzipSync } from "node:zlib";
import { sha256Hex } from "#shared/ids.ts";
import type { StoredBlobRef } from "#shared/domain/job.ts";

/**
 * DynamoDB items stop at 400 KB and outputs can be megabytes: a JSON document is gzipped and cut
 * into chunks small enough to leave room for keys and attribute names.
 */
const CHUNK_BYTES = 350_000;

export function encodeBlob(value: unknown): { ref: StoredBlobRef; chunks: Buffer[] } {
  const json = Buffer.from(JSON.stringify(value), "utf8");
  const packed = gzipSync(json, { level: 6 });
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < packed.length; offset += CHUNK_BYTES)
    chunks.push(packed.subarray(offset, offset + CHUNK_BYTES));
  if (chunks.length === 0) chunks.push(Buffer.alloc(0));
  return { ref: { chunks: chunks.length, bytes: json.length, sha256: sha256Hex(json) }, chunks };
}

export function decodeBlob<T>(ref: StoredBlobRef, chunks: Uint8Array[]): T {
  if (chunks.length !== ref.chunks) throw new Error(`blob has ${chunks.length} of ${ref.chunks} chunks`);
  const json = gunzipSync(Buffer.concat(chunks));
  // A torn or mixed-up blob must never be served as someone's output.
  if (sha256Hex(json) !== ref.sha256) throw new Error("blob checksum mismatch");
  return JSON.parse(json.toString("utf8")) as T;
}

/**
 * Chunks are keyed by the blob's content hash, so two writers racing to store different versions
 * (two pollers finishing one job) can never interleave chunks: the job item points at exactly one.
 */
export const chunkPrefix = (prefix: string, ref: Pick<StoredBlobRef, "sha256">): string =>
  `${prefix}#${ref.sha256.slice(0, 16)}#`;
export const chunkSortKey = (prefix: string, ref: Pick<StoredBlobRef, "sha256">, index: number): string =>
  `${chunkPrefix(prefix, ref)}${String(index).padStart(4, "0")}`;
