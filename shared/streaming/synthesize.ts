/**
 * The events the relay writes itself when it cannot relay the upstream's (the resume was refused
 * or kept failing, and the job was followed by polling): from what the stream already told its
 * readers and the final Response, the rest of a well-formed stream in OpenAI's order, ending with
 * the terminal event that carries the full Response and usage.
 */
import type { StreamEvent } from "#shared/ports.ts";
import type { StreamState } from "./stream-state.ts";

/** Long texts are sent in pieces of this many characters (readers' SSE buffers stay small). */
export const SYNTHETIC_DELTA_CHARS = 32_768;

type Json = Record<string, unknown>;
type Unnumbered = Omit<StreamEvent, "sequence_number">;

/**
 * The event that ends a stream, by how the job ended. OpenAI's stream has no event for a
 * cancelled response, and a stream that just stops leaves SDK helpers reporting the last
 * snapshot ("in_progress") as final. `response.failed` carrying the Response with status
 * `cancelled` makes them truthful: the official SDK's `finalResponse()` takes the Response from
 * the event (status `cancelled`), and clients that branch on the type (the Vercel AI SDK) report
 * the stream as not finished successfully rather than as a normal stop. (docs/upstream-facts.md)
 */
const TERMINAL_TYPES: Record<string, string> = {
  completed: "response.completed",
  failed: "response.failed",
  incomplete: "response.incomplete",
  cancelled: "response.failed",
};

/**
 * `final` is the Response as callers see it (the relay's id and the caller's metadata); `status`
 * the job's end. Events are numbered from `nextSeq`.
 */
export function closingEvents(state: StreamState, final: Json, status: string, nextSeq: number): StreamEvent[] {
  const out: Unnumbered[] = [];
  const terminalType = TERMINAL_TYPES[status];
  const output = Array.isArray(final.output) ? (final.output as Json[]) : [];
  const snapshot = (phase: string): Json => ({
    ...final,
    status: phase,
    output: [],
    usage: null,
    error: null,
    incomplete_details: null,
    completed_at: null,
  });

  if (!state.created) out.push({ type: "response.created", response: snapshot("queued") });
  if (!state.created && final.background !== false) out.push({ type: "response.queued", response: snapshot("queued") });
  const ran = output.length > 0 || status === "completed" || status === "incomplete";
  if (!state.inProgress && ran) out.push({ type: "response.in_progress", response: snapshot("in_progress") });

  // Failed and cancelled streams end with the terminal event alone (a cancelled one keeps its partial output).
  if (status === "completed" || status === "incomplete") {
    for (const [index, item] of output.entries()) out.push(...closeItem(state, item, index));
  }
  if (terminalType && !state.terminal) out.push({ type: terminalType, response: final });
  return out.map((event, i) => ({ ...event, sequence_number: nextSeq + i }) as StreamEvent);
}

function closeItem(state: StreamState, item: Json, outputIndex: number): Unnumbered[] {
  const seen = state.item(outputIndex);
  if (seen?.done) return [];
  const out: Unnumbered[] = [];
  if (!seen?.added) out.push({ type: "response.output_item.added", output_index: outputIndex, item: openedItem(item) });
  if (item.type === "message" && Array.isArray(item.content)) {
    const itemId = item.id;
    (item.content as Json[]).forEach((part, contentIndex) => {
      const partSeen = seen?.parts.get(contentIndex);
      if (partSeen?.done) return;
      const where = { item_id: itemId, output_index: outputIndex, content_index: contentIndex };
      if (!partSeen?.added) out.push({ type: "response.content_part.added", ...where, part: emptyPart(part) });
      const kind = part.type === "output_text" ? "output_text" : part.type === "refusal" ? "refusal" : null;
      if (kind && !partSeen?.textDone) {
        const full = String((kind === "output_text" ? part.text : part.refusal) ?? "");
        const sent = state.text(outputIndex, contentIndex);
        // Only the part not yet sent; a stream that somehow diverged gets no more deltas, and the
        // done event below carries the whole truth anyway.
        if (full.startsWith(sent)) {
          for (const piece of pieces(full.slice(sent.length))) {
            out.push(
              kind === "output_text"
                ? { type: "response.output_text.delta", ...where, delta: piece, logprobs: [] }
                : { type: "response.refusal.delta", ...where, delta: piece },
            );
          }
        }
        out.push(
          kind === "output_text"
            ? { type: "response.output_text.done", ...where, text: full, logprobs: [] }
            : { type: "response.refusal.done", ...where, refusal: full },
        );
      }
      out.push({ type: "response.content_part.done", ...where, part });
    });
  }
  out.push({ type: "response.output_item.done", output_index: outputIndex, item });
  return out;
}

/** An item as `output_item.added` shows it: open, before any content. */
function openedItem(item: Json): Json {
  if (item.type === "message")
    return { id: item.id, type: "message", status: "in_progress", content: [], role: item.role ?? "assistant" };
  if (item.type === "reasoning")
    return {
      ...item,
      summary: [],
      ...("content" in item ? { content: [] } : {}),
      ...("status" in item ? { status: "in_progress" } : {}),
    };
  return "status" in item ? { ...item, status: "in_progress" } : { ...item };
}

function emptyPart(part: Json): Json {
  if (part.type === "output_text") return { type: "output_text", text: "", annotations: [], logprobs: [] };
  if (part.type === "refusal") return { type: "refusal", refusal: "" };
  return part;
}

/** Splits text into delta-sized pieces without cutting a surrogate pair. */
export function pieces(text: string, size = SYNTHETIC_DELTA_CHARS): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end -= 1;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}
