import { LIFECYCLE_EVENT_TYPES, TERMINAL_EVENT_TYPES } from "#shared/domain/stream-events.ts";
import type { StreamEvent } from "#shared/ports.ts";

/** What a stream has told its reader so far about one content part of an output item. */
export interface PartState {
  added: boolean;
  done: boolean;
  /** `response.output_text.done` / `response.refusal.done` seen. */
  textDone: boolean;
  /** Streamed text, as pieces (joined only when needed, so long streams stay linear). */
  pieces: string[];
}

export interface ItemState {
  added: boolean;
  done: boolean;
  parts: Map<number, PartState>;
}

const TEXT_DELTAS = new Set(["response.output_text.delta", "response.refusal.delta"]);
const TEXT_DONES = new Set(["response.output_text.done", "response.refusal.done"]);

/**
 * Folds a stream's events into what a reader has seen: which items and parts were opened and
 * closed, and the text streamed into each part. The relay needs it to finish a stream itself
 * (after falling back to polling) without repeating or contradicting anything already sent.
 */
export class StreamState {
  created = false;
  inProgress = false;
  terminal: string | null = null;
  /** Last status announced by a lifecycle event. */
  status: string | null = null;
  readonly items = new Map<number, ItemState>();
  /** Sequence number of the last event folded in (-1: none). */
  lastSeq = -1;

  apply(event: StreamEvent): void {
    this.lastSeq = event.sequence_number;
    const type = event.type;
    if (LIFECYCLE_EVENT_TYPES.has(type)) {
      if (type === "response.created") this.created = true;
      if (type === "response.in_progress") this.inProgress = true;
      if (TERMINAL_EVENT_TYPES.has(type)) this.terminal = type;
      const status = (event.response as { status?: unknown } | undefined)?.status;
      this.status = typeof status === "string" ? status : type.slice("response.".length);
      return;
    }
    const outputIndex = event.output_index;
    if (typeof outputIndex !== "number") return;
    const item = this.#item(outputIndex);
    if (type === "response.output_item.added") item.added = true;
    else if (type === "response.output_item.done") item.done = true;
    const contentIndex = event.content_index;
    if (typeof contentIndex !== "number") return;
    const part = this.#part(item, contentIndex);
    if (type === "response.content_part.added") part.added = true;
    else if (type === "response.content_part.done") part.done = true;
    else if (TEXT_DELTAS.has(type) && typeof event.delta === "string") part.pieces.push(event.delta);
    else if (TEXT_DONES.has(type)) part.textDone = true;
  }

  item(outputIndex: number): ItemState | undefined {
    return this.items.get(outputIndex);
  }

  text(outputIndex: number, contentIndex: number): string {
    return this.items.get(outputIndex)?.parts.get(contentIndex)?.pieces.join("") ?? "";
  }

  #item(index: number): ItemState {
    let item = this.items.get(index);
    if (!item) this.items.set(index, (item = { added: false, done: false, parts: new Map() }));
    return item;
  }

  #part(item: ItemState, index: number): PartState {
    let part = item.parts.get(index);
    if (!part) item.parts.set(index, (part = { added: false, done: false, textDone: false, pieces: [] }));
    return part;
  }
}
