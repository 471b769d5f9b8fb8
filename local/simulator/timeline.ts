/**
 * A job's whole life, planned at creation: when it starts, ends, and when each stream event becomes
 * available on the clock. Everything else (status, partial output, what a stream may send) is derived
 * lazily from this and the current clock, so a ManualClock jump moves every job consistently.
 */
import type { JobPlan } from "./plan.ts";

export type EventKind =
  | "created"
  | "queued"
  | "in_progress"
  | "reasoning_added"
  | "reasoning_done"
  | "item_added"
  | "part_added"
  | "delta"
  | "text_done"
  | "part_done"
  | "item_done"
  | "completed"
  | "failed"
  | "incomplete";

export interface ScheduledEvent {
  kind: EventKind;
  /** Clock ms at which the event becomes available. */
  at: number;
  /** For deltas: index into the text chunks. */
  delta?: number;
}

export interface Timeline {
  startAt: number;
  /** When the outcome is reached; Infinity for stuck_queued. */
  endAt: number;
  /** Bytes the model "writes": all of them when completed, half when it fails or runs out of tokens. */
  generatedBytes: number;
  deltaSize: number;
  deltaCount: number;
  /** Index in `events` of the first delta (deltas are contiguous). */
  firstDelta: number;
  /** Indexes of the events that add / finish the reasoning item; -1 when there is none. */
  reasoningAdded: number;
  reasoningDone: number;
  /** Indexes of the output item's added / content-part-added / done events; -1 when there is none. */
  itemAdded: number;
  partAdded: number;
  itemDone: number;
  events: ScheduledEvent[];
}

/** Cap on delta events, so multi-MB outputs stream in large deltas instead of millions of tiny ones. */
export const MAX_DELTAS = 200;
const MIN_DELTA_BYTES = 16;

export interface OutputShape {
  /** A message streams its text inside a content part; a function call streams its arguments into the item. */
  contentPart: boolean;
  /** A reasoning item (added and done when the run starts) precedes the answer. */
  reasoning: boolean;
}

export function planTimeline(
  createdAt: number,
  plan: JobPlan,
  background: boolean,
  shape: OutputShape = { contentPart: true, reasoning: false },
): Timeline {
  const { contentPart } = shape;
  // Synchronous responses have no queue phase; the API opens their stream with an in_progress response.
  const queuedMs = background ? plan.queuedMs : 0;
  const stuck = plan.outcome === "stuck_queued";
  const startAt = stuck ? Infinity : createdAt + queuedMs;
  const endAt = startAt + plan.runMs;
  const generatedBytes = plan.outcome === "completed" ? plan.outputBytes : Math.floor(plan.outputBytes / 2);
  const deltaSize = Math.max(MIN_DELTA_BYTES, Math.ceil(generatedBytes / MAX_DELTAS));
  const deltaCount = Math.ceil(generatedBytes / deltaSize);

  const events: ScheduledEvent[] = [{ kind: "created", at: createdAt }];
  if (background) events.push({ kind: "queued", at: createdAt });
  const none = { reasoningAdded: -1, reasoningDone: -1, itemAdded: -1, partAdded: -1, itemDone: -1 };
  if (stuck) {
    return { startAt, endAt, generatedBytes: 0, deltaSize, deltaCount: 0, firstDelta: events.length, ...none, events };
  }

  events.push({ kind: "in_progress", at: startAt });
  const reasoningAdded = shape.reasoning ? events.push({ kind: "reasoning_added", at: startAt }) - 1 : -1;
  const reasoningDone = shape.reasoning ? events.push({ kind: "reasoning_done", at: startAt }) - 1 : -1;
  const itemAdded = events.push({ kind: "item_added", at: startAt }) - 1;
  const partAdded = contentPart ? events.push({ kind: "part_added", at: startAt }) - 1 : -1;
  const firstDelta = events.length;
  for (let i = 0; i < deltaCount; i++) {
    // Spread evenly over the run, the last one strictly before the end when runMs allows.
    events.push({ kind: "delta", at: startAt + Math.floor((plan.runMs * (i + 1)) / (deltaCount + 1)), delta: i });
  }
  let itemDone = -1;
  if (plan.outcome === "failed") {
    events.push({ kind: "failed", at: endAt });
  } else {
    events.push({ kind: "text_done", at: endAt });
    if (contentPart) events.push({ kind: "part_done", at: endAt });
    itemDone = events.push({ kind: "item_done", at: endAt }) - 1;
    events.push({ kind: plan.outcome === "incomplete" ? "incomplete" : "completed", at: endAt });
  }
  return {
    startAt,
    endAt,
    generatedBytes,
    deltaSize,
    deltaCount,
    firstDelta,
    reasoningAdded,
    reasoningDone,
    itemAdded,
    partAdded,
    itemDone,
    events,
  };
}

/** Number of events with `at <= t` (events are sorted by time). */
export function countAvailable(events: ScheduledEvent[], t: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid]!.at <= t)
      lo = mid + 1; // lo <= mid < hi <= events.length
    else hi = mid;
  }
  return lo;
}
