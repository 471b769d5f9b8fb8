/**
 * What a status read needs besides the job item, kept per process: the shown fields of a job's
 * request and its final Response, decoded. Both are immutable: an entry is keyed by job and kind
 * and carries the content hash of the blob it came from, and it is served only for a job item,
 * read fresh, whose reference names that same hash. The job item itself (status, the webhook's
 * delivery state, the tenant) is never cached (docs/decisions/0013-status-read-path.md).
 *
 * Bounded by the JSON size of what it holds (in memory a decoded value takes a few times that),
 * least recently used first out; values over the per-entry bound are not kept. Values are frozen:
 * every reader shares them.
 */

/** JSON bytes kept at most per process: 32 MiB (on the API function's 1024 MB). */
const VIEW_CACHE_BYTES = 32 * 1024 * 1024;
/** Larger values are read from the table each time: 1 MiB. */
const VIEW_CACHE_ENTRY_BYTES = 1024 * 1024;

export type BlobKind = "request" | "output";
type Json = Record<string, unknown>;

interface Entry {
  sha256: string;
  value: Json;
  bytes: number;
}

export class ViewCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  #bytes = 0;

  constructor(options: { maxBytes?: number; maxEntryBytes?: number } = {}) {
    this.#maxBytes = options.maxBytes ?? VIEW_CACHE_BYTES;
    this.#maxEntryBytes = Math.min(options.maxEntryBytes ?? VIEW_CACHE_ENTRY_BYTES, this.#maxBytes);
  }

  /** JSON bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether anything of `kind` is kept for the job (whatever its hash). */
  has(jobId: string, kind: BlobKind): boolean {
    return this.#entries.has(`${jobId} ${kind}`);
  }

  /** The value decoded from the blob with this hash, if kept. */
  get(jobId: string, kind: BlobKind, sha256: string): Json | undefined {
    const key = `${jobId} ${kind}`;
    const entry = this.#entries.get(key);
    if (!entry || entry.sha256 !== sha256) return undefined;
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(jobId: string, kind: BlobKind, sha256: string, value: Json, bytes: number): void {
    const key = `${jobId} ${kind}`;
    this.#drop(key);
    if (bytes > this.#maxEntryBytes) return;
    for (const [oldest] of this.#entries) {
      if (this.#bytes + bytes <= this.#maxBytes) break;
      this.#drop(oldest);
    }
    this.#entries.set(key, { sha256, value: deepFreeze(value), bytes });
    this.#bytes += bytes;
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
