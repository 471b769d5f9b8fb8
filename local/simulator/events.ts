/**
 * Stream events (docs/upstream-facts.md, "Streaming and resuming"), rendered on demand from the
 * timeline: the sequence number is the event's index, so every replay of the stored log reuses the same numbers.
 */
import type { Job } from "./job.ts";
import { hash32 } from "./random.ts";
import { outputTextPart, reasoningItem, renderResponse } from "./response-object.ts";
import type { ScheduledEvent } from "./timeline.ts";

export interface StreamEvent {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}

/** Padding the API adds to deltas to hide their length; deterministic so replays are byte-identical. */
function obfuscation(job: Job, seq: number): string {
  const h = hash32(`${job.id}:${seq}`);
  return h.toString(36).slice(0, 2 + (h % 10));
}

/** A function call streams its arguments into the item itself: no content part, its own delta events. */
function renderCallEvent(
  job: Job,
  seq: number,
  scheduled: ScheduledEvent,
  answer: FunctionCallAnswer,
): StreamEvent | null {
  const item = (status: string, args: string) => ({
    id: answer.itemId,
    type: "function_call",
    status,
    arguments: args,
    call_id: answer.callId,
    name: answer.name,
  });
  const finalStatus = job.plan.outcome === "incomplete" ? "incomplete" : "completed";
  const output_index = job.answerIndex;
  switch (scheduled.kind) {
    case "item_added":
      return {
        type: "response.output_item.added",
        sequence_number: seq,
        output_index,
        item: item("in_progress", ""),
      };
    case "delta":
      return {
        type: "response.function_call_arguments.delta",
        sequence_number: seq,
        item_id: answer.itemId,
        output_index,
        delta: job.deltaText(scheduled.delta ?? 0),
      };
    case "text_done":
      return {
        type: "response.function_call_arguments.done",
        sequence_number: seq,
        item_id: answer.itemId,
        output_index,
        name: answer.name,
        arguments: job.text(),
      };
    case "item_done":
      return {
        type: "response.output_item.done",
        sequence_number: seq,
        output_index,
        item: item(finalStatus, job.text()),
      };
  }
  return null;
}

type FunctionCallAnswer = Extract<Job["answer"], { kind: "function_call" }>;

export function renderEvent(job: Job, seq: number, includeObfuscation: boolean): StreamEvent {
  const scheduled = job.timeline.events[seq];
  // Callers stream sequence numbers below availableEvents(), which never exceeds events.length.
  if (!scheduled) throw new RangeError(`no event ${seq} in a timeline of ${job.timeline.events.length}`);
  if (job.answer.kind === "function_call") {
    const event = renderCallEvent(job, seq, scheduled, job.answer);
    if (event) return event;
  }
  const output_index = job.answerIndex;
  const item = { item_id: job.messageId, output_index, content_index: 0 };
  const fullText = () => job.text();
  const finalItemStatus = job.plan.outcome === "incomplete" ? "incomplete" : "completed";
  switch (scheduled.kind) {
    case "created":
      return {
        type: "response.created",
        sequence_number: seq,
        response: renderResponse(job, scheduled.at, job.background ? "queued" : "in_progress"),
      };
    case "queued":
      return { type: "response.queued", sequence_number: seq, response: renderResponse(job, scheduled.at, "queued") };
    case "in_progress":
      return {
        type: "response.in_progress",
        sequence_number: seq,
        response: renderResponse(job, scheduled.at, "in_progress"),
      };
    case "reasoning_added":
      return {
        type: "response.output_item.added",
        sequence_number: seq,
        output_index: 0,
        item: { id: job.reasoningId, type: "reasoning", summary: [] },
      };
    case "reasoning_done":
      return { type: "response.output_item.done", sequence_number: seq, output_index: 0, item: reasoningItem(job) };
    case "item_added":
      return {
        type: "response.output_item.added",
        sequence_number: seq,
        output_index,
        item: { id: job.messageId, type: "message", status: "in_progress", content: [], role: "assistant" },
      };
    case "part_added":
      return { type: "response.content_part.added", sequence_number: seq, ...item, part: outputTextPart("") };
    case "delta": {
      const event: StreamEvent = {
        type: "response.output_text.delta",
        sequence_number: seq,
        ...item,
        delta: job.deltaText(scheduled.delta ?? 0),
        logprobs: [],
      };
      if (includeObfuscation) event.obfuscation = obfuscation(job, seq);
      return event;
    }
    case "text_done":
      return { type: "response.output_text.done", sequence_number: seq, ...item, text: fullText(), logprobs: [] };
    case "part_done":
      return { type: "response.content_part.done", sequence_number: seq, ...item, part: outputTextPart(fullText()) };
    case "item_done":
      return {
        type: "response.output_item.done",
        sequence_number: seq,
        output_index,
        item: {
          id: job.messageId,
          type: "message",
          status: finalItemStatus,
          content: [outputTextPart(fullText())],
          role: "assistant",
        },
      };
    case "completed":
    case "failed":
    case "incomplete":
      return { type: `response.${scheduled.kind}`, sequence_number: seq, response: renderResponse(job, scheduled.at) };
  }
}

export const TERMINAL_EVENT_TYPES = new Set(["response.completed", "response.failed", "response.incomplete"]);

/** SSE framing: `event:` line, `data:` line, blank line; no `[DONE]` (the server just closes). */
export const frameSse = (event: StreamEvent): string => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
