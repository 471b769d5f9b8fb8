import type { EventBatch, EventLog, StreamEvent } from "#shared/ports.ts";
import { closingEvents } from "./synthesize.ts";
import { TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";
import { StreamState } from "./stream-state.ts";

export interface LogWriterSettings {
  /** Real ms an event may wait in the buffer before it is written (and served). */
  flushMs: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
}

interface Pending {
  event: StreamEvent;
  upstreamSeq: number;
  bytes: number;
}

/**
 * Appends one job's events to its log in batches: a write per batch rather than per event, after
 * `flushMs` at most. Numbers are assigned at the write, right after the newest stored event, so a
 * writer that lost a race (another instance appended first) re-reads the tail, drops what the
 * winner already stored (by upstream cursor) and carries on after it. Readers are only ever
 * served stored events, so every reader sees the same numbers and content.
 */
export class LogWriter {
  /** The next sequence number to store. */
  next = 0;
  /** The highest upstream sequence number consumed (stored or buffered): resume after it. */
  upstreamHigh = -1;
  ended = false;
  readonly #log: EventLog;
  readonly #jobId: string;
  readonly #settings: LogWriterSettings;
  readonly #onAppended: (batch: EventBatch) => void;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  #failure: unknown = null;
  #terminalBuffered = false;
  #state: StreamState | null = null;

  constructor(log: EventLog, jobId: string, settings: LogWriterSettings, onAppended: (batch: EventBatch) => void) {
    this.#log = log;
    this.#jobId = jobId;
    this.#settings = settings;
    this.#onAppended = onAppended;
  }

  async init(): Promise<void> {
    this.#adopt(await this.#log.last(this.#jobId));
  }

  /** Buffers one upstream event (already in the relay's view). Duplicates of consumed events are dropped. */
  async add(event: StreamEvent, upstreamSeq: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.ended || this.#terminalBuffered || upstreamSeq <= this.upstreamHigh) return;
    this.upstreamHigh = upstreamSeq;
    const bytes = JSON.stringify(event).length;
    this.#pending.push({ event, upstreamSeq, bytes });
    this.#pendingBytes += bytes;
    if (TERMINAL_EVENT_TYPES.has(event.type)) {
      this.#terminalBuffered = true;
      return this.flush();
    }
    if (this.#pending.length >= this.#settings.maxBatchEvents || this.#pendingBytes >= this.#settings.maxBatchBytes)
      return this.flush();
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.flush().catch((error) => (this.#failure = error));
      }, this.#settings.flushMs);
    }
  }

  /** Writes what is buffered. Serialised: one write at a time. */
  flush(): Promise<void> {
    const run = this.#chain.then(() => this.#flushNow());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Ends the log with events the relay writes itself (after the stored ones): the rest of the
   * stream from `final`, the Response callers see. A race with another writer is retried on top
   * of whatever that writer stored.
   */
  async finish(final: Record<string, unknown>, status: string): Promise<void> {
    await this.flush();
    for (let attempt = 0; attempt < 10 && !this.ended; attempt++) {
      const state = await this.#stateUpToNext();
      const events = closingEvents(state, final, status, this.next);
      const batch: EventBatch = { first: this.next, events, upstreamCursor: null, end: { status } };
      if (await this.#log.append(this.#jobId, batch)) {
        this.#stored(batch);
        return;
      }
      this.#adopt(await this.#log.last(this.#jobId));
    }
    if (!this.ended) throw new Error(`could not end the stream log of ${this.#jobId}`);
  }

  /** Stops the flush timer (whatever is still buffered was never served, so nothing is lost). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  async #flushNow(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    while (this.#pending.length > 0 && !this.ended) {
      const items = this.#pending.slice();
      const last = items[items.length - 1]!.event;
      const batch: EventBatch = {
        first: this.next,
        events: items.map((p, i) => ({ ...p.event, sequence_number: this.next + i })),
        upstreamCursor: items[items.length - 1]!.upstreamSeq,
        // The upstream's terminal event ends the log (nothing follows it).
        end: TERMINAL_EVENT_TYPES.has(last.type)
          ? {
              status: (last.response as { status?: string } | undefined)?.status ?? last.type.slice("response.".length),
            }
          : null,
      };
      if (await this.#log.append(this.#jobId, batch)) {
        this.#pending = this.#pending.slice(items.length);
        this.#pendingBytes = this.#pending.reduce((sum, p) => sum + p.bytes, 0);
        this.#stored(batch);
        continue;
      }
      // Another writer took this slot: follow the stored log and keep only what it lacks.
      const slot = this.next;
      this.#adopt(await this.#log.last(this.#jobId));
      if (this.next <= slot)
        throw new Error(`the stream log of ${this.#jobId} refused slot ${slot} but shows nothing there`);
    }
    if (this.ended) this.#pending = [];
    this.#failure = null;
  }

  #stored(batch: EventBatch): void {
    this.next = batch.first + batch.events.length;
    if (batch.end) this.ended = true;
    if (this.#state) for (const event of batch.events) this.#state.apply(event);
    this.#onAppended(batch);
  }

  #adopt(tail: EventBatch | null): void {
    if (!tail) return;
    this.next = tail.first + tail.events.length;
    if (tail.end) this.ended = true;
    if (tail.upstreamCursor !== null) {
      const cursor = tail.upstreamCursor;
      this.upstreamHigh = Math.max(this.upstreamHigh, cursor);
      this.#pending = this.#pending.filter((p) => p.upstreamSeq > cursor);
      this.#pendingBytes = this.#pending.reduce((sum, p) => sum + p.bytes, 0);
      this.#terminalBuffered = this.#pending.some((p) => TERMINAL_EVENT_TYPES.has(p.event.type));
    }
    // The folded state no longer matches what others stored: rebuild it when needed.
    this.#state = null;
  }

  /** What the stored log has told readers, folded (read from the store once, then kept up). */
  async #stateUpToNext(): Promise<StreamState> {
    const state = this.#state ?? new StreamState();
    while (state.lastSeq + 1 < this.next) {
      const batches = await this.#log.read(this.#jobId, state.lastSeq);
      if (batches.length === 0) break;
      for (const batch of batches)
        for (const event of batch.events) if (event.sequence_number > state.lastSeq) state.apply(event);
      const tail = batches[batches.length - 1]!;
      this.next = Math.max(this.next, tail.first + tail.events.length);
      if (tail.end) this.ended = true;
    }
    // Finishing on a partial picture could repeat what readers already have: never do that.
    if (state.lastSeq + 1 < this.next)
      throw new Error(`the stream log of ${this.#jobId} could not be read up to ${this.next}`);
    this.#state = state;
    return state;
  }
}
