/**
 * The Response object on the wire, built from a job at a given clock time. Field set and defaults follow
 * docs/upstream-facts.md ("Statuses and the Response object"); request fields are echoed the way
 * the real API echoes them.
 */
import { toUnixSeconds } from "#shared/clock.ts";
import { type Job, outputTokensFor, type ResponseStatus } from "./job.ts";
import { inputTokensFor } from "./tokens.ts";
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

export interface FunctionCallItem {
  id: string;
  type: "function_call";
  status: "in_progress" | "completed" | "incomplete";
  arguments: string;
  call_id: string;
  name: string;
}

export type OutputItem = MessageItem | FunctionCallItem;

export interface ReasoningItem {
  id: string;
  type: "reasoning";
  summary: [];
  encrypted_content?: string;
}

/** The reasoning item, carrying `encrypted_content` only when the request included it (as OpenAI does). */
export function reasoningItem(job: Job): ReasoningItem {
  const item: ReasoningItem = { id: job.reasoningId, type: "reasoning", summary: [] };
  if (job.request.include.includes("reasoning.encrypted_content")) {
    item.encrypted_content = `gAAAAB${Buffer.from(`simulated reasoning of ${job.id}`).toString("base64")}`;
  }
  return item;
}

/** Token counts derived from sizes (~4 bytes a token), so the same request always costs the same. */
export function usageFor(job: Job, outputText: string) {
  const inputTokens = inputTokensFor(job.request.body, job.contextBytes);
  const { text: textTokens, reasoning: planned } = outputTokensFor(job.request.model, outputText.length);
  // Reasoning counts toward max_output_tokens: a response never reports more than it allowed.
  const max = job.request.body.max_output_tokens;
  const reasoningTokens = typeof max === "number" ? Math.max(0, Math.min(planned, max - textTokens)) : planned;
  const outputTokens = textTokens + reasoningTokens;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: Math.min(job.plan.cachedTokens, inputTokens), cache_write_tokens: 0 },
    output_tokens: outputTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: inputTokens + outputTokens,
  };
}

/** The output item as of time t, or null before the run started (stuck jobs never get one). */
export function outputItemAt(job: Job, t: number): OutputItem | null {
  const { itemAdded, partAdded, itemDone, events } = job.timeline;
  const available = job.availableEvents(t);
  if (itemAdded < 0 || available <= itemAdded) return null;
  // itemAdded >= 0 is an index into events, so there is a last event.
  const last = events[events.length - 1];
  if (!last) throw new Error(`job ${job.id} has an output item but an empty timeline`);
  const finalStatus = last.kind === "incomplete" ? "incomplete" : "completed";
  const status = itemDone >= 0 && available > itemDone ? finalStatus : "in_progress";
  const { answer } = job;
  if (answer.kind === "function_call") {
    return {
      id: answer.itemId,
      type: "function_call",
      status,
      arguments: job.textAt(t),
      call_id: answer.callId,
      name: answer.name,
    };
  }
  const content = available > partAdded ? [outputTextPart(job.textAt(t))] : [];
  return { id: job.messageId, type: "message", status, role: "assistant", content };
}

/** The text an output item carries (message text or call arguments). */
export const itemOutputText = (item: OutputItem | null): string =>
  item === null ? "" : item.type === "function_call" ? item.arguments : (item.content[0]?.text ?? "");

const echo = (v: Json | undefined, fallback: Json): Json => (v === undefined || v === null ? fallback : v);

/** Function tools come back with the defaults the API fills in (strict mode on, no description). */
function echoTool(tool: Json): Json {
  if (typeof tool !== "object" || tool === null || Array.isArray(tool) || tool.type !== "function") return tool;
  return { description: null, parameters: null, strict: true, ...tool };
}

/**
 * `phase` forces the snapshot carried by the opening stream events (created/queued/in_progress), which
 * show the response before any output item exists.
 */
export function renderResponse(job: Job, t: number, phase?: ResponseStatus): Record<string, unknown> {
  const body = job.request.body;
  const status = phase ?? job.statusAt(t);
  // Opening snapshots, queued and failed responses carry no output (a failed run's partial text is dropped).
  const showOutput = phase === undefined && status !== "queued" && status !== "failed";
  const item = showOutput ? outputItemAt(job, t) : null;
  const { reasoningAdded } = job.timeline;
  const thought =
    showOutput && reasoningAdded >= 0 && job.availableEvents(t) > reasoningAdded ? [reasoningItem(job)] : [];
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
    output: [...thought, ...(item ? [item] : [])],
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
    tools: Array.isArray(body.tools) ? body.tools.map(echoTool) : [],
    top_logprobs: echo(body.top_logprobs, 0),
    top_p: echo(body.top_p, 1),
    truncation: echo(body.truncation, "disabled"),
    usage: finished ? usageFor(job, status === "failed" ? job.textAt(t) : itemOutputText(item)) : null,
    user: echo(body.user, null),
    metadata: job.request.metadata,
    conversation: job.request.conversationId === null ? null : { id: job.request.conversationId },
  };
}
