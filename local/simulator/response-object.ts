/**
 * The Response object on the wire, built from a job at a given clock time. Field set and defaults follow
 * docs/upstream-facts.md ("Statuses and the Response object"); request fields are echoed the way
 * the real API echoes them.
 */
import { toUnixSeconds } from "#shared/clock.ts";
import type { Job, ResponseStatus } from "./job.ts";
import type { Json } from "./validate.ts";

export interface OutputText {
  type: "output_text";
  text: string;
  annotations: [];
  logprobs: [];
}

export interface MessageItem {
  id: string;
  type: "message";
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: OutputText[];
}

export const outputTextPart = (text: string): OutputText => ({
  type: "output_text",
  text,
  annotations: [],
  logprobs: [],
});

const REASONING_MODEL = /^(o\d|gpt-5|.*deep-research)/;

/** Token counts derived from sizes (~4 bytes a token), so the same request always costs the same. */
export function usageFor(job: Job, outputText: string) {
  const body = job.request.body;
  const promptBytes =
    Buffer.byteLength(JSON.stringify(body.input ?? "")) + Buffer.byteLength(String(body.instructions ?? ""));
  const inputTokens = 8 + Math.ceil(promptBytes / 4);
  const textTokens = Math.ceil(outputText.length / 4);
  const reasoningTokens = REASONING_MODEL.test(job.request.model) ? Math.ceil(textTokens / 2) + 64 : 0;
  const outputTokens = textTokens + reasoningTokens;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: Math.min(job.plan.cachedTokens, inputTokens), cache_write_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: inputTokens + outputTokens,
  };
}

/** The message item as of time t, or null before the run started. */
export function messageAt(job: Job, t: number): MessageItem | null {
  const { firstDelta, deltaCount, events } = job.timeline;
  const available = job.availableEvents(t);
  const itemAddedIndex = firstDelta - 2;
  // Stuck jobs never get an item, even when cancelled.
  if (events[itemAddedIndex]?.kind !== "item_added" || available <= itemAddedIndex) return null;
  const itemDone = available >= firstDelta + deltaCount + 3;
  const content = available > itemAddedIndex + 1 ? [outputTextPart(job.textAt(t))] : [];
  const finalStatus = events[events.length - 1].kind === "incomplete" ? "incomplete" : "completed";
  return {
    id: job.messageId,
    type: "message",
    status: itemDone ? finalStatus : "in_progress",
    role: "assistant",
    content,
  };
}

const echo = (v: Json | undefined, fallback: Json): Json => (v === undefined || v === null ? fallback : v);

/**
 * `phase` forces the snapshot carried by the opening stream events (created/queued/in_progress), which
 * show the response before any output item exists.
 */
export function renderResponse(job: Job, t: number, phase?: ResponseStatus): Record<string, unknown> {
  const body = job.request.body;
  const status = phase ?? job.statusAt(t);
  const message = phase !== undefined || status === "queued" || status === "failed" ? null : messageAt(job, t);
  const finished = status === "completed" || status === "failed" || status === "incomplete";
  const reasoning = (body.reasoning ?? {}) as Record<string, Json>;
  const text = (body.text ?? {}) as Record<string, Json>;
  return {
    id: job.id,
    object: "response",
    created_at: toUnixSeconds(job.createdAt),
    status,
    background: job.background,
    completed_at: status === "completed" ? toUnixSeconds(job.timeline.endAt) : null,
    error:
      status === "failed"
        ? {
            code: "server_error",
            message:
              "An error occurred while processing your request. You can retry your request, or contact us through our help center at help.openai.com if the error persists.",
          }
        : null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: echo(body.instructions, null),
    max_output_tokens: echo(body.max_output_tokens, null),
    max_tool_calls: echo(body.max_tool_calls, null),
    model: job.request.model,
    output: message ? [message] : [],
    parallel_tool_calls: echo(body.parallel_tool_calls, true),
    previous_response_id: echo(body.previous_response_id, null),
    prompt_cache_key: echo(body.prompt_cache_key, null),
    reasoning: { effort: echo(reasoning.effort, null), summary: echo(reasoning.summary, null) },
    safety_identifier: echo(body.safety_identifier, null),
    service_tier: echo(body.service_tier, "auto"),
    store: job.request.store,
    temperature: echo(body.temperature, 1),
    text: { format: { type: "text" }, verbosity: "medium", ...text },
    tool_choice: echo(body.tool_choice, "auto"),
    tools: echo(body.tools, []),
    top_logprobs: echo(body.top_logprobs, 0),
    top_p: echo(body.top_p, 1),
    truncation: echo(body.truncation, "disabled"),
    usage: finished ? usageFor(job, status === "failed" ? job.textAt(t) : (message?.content[0]?.text ?? "")) : null,
    user: echo(body.user, null),
    metadata: job.request.metadata,
    conversation: echo(body.conversation, null),
  };
}
