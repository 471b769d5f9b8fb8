import { toUnixSeconds } from "#shared/clock.ts";
import { isTerminal, type Job } from "./job.ts";
import { statusLabel } from "./labels.ts";

type Json = Record<string, unknown>;

/** The relay's own block in every Response object it returns. */
export interface RelayBlock {
  upstream_id: string | null;
  status_label: string;
  /** Why the relay itself ended the job (deadline, queued too long, a lost create), else null. */
  reason: { code: string; message: string } | null;
  cost_usd: number | null;
  /** Ended with usage but no price for its model: `cost_usd` stays null, never a made-up $0. */
  unpriced: boolean;
  /** `relay.max_cost_usd` as submitted and the bound the relay put on the output for it. */
  budget: { max_cost_usd: number; input_tokens: number; max_output_tokens: number; worst_case_usd: number } | null;
  deadline_at: number;
  ended_at: number | null;
  status_url: string;
  cancel_url: string;
  webhook: {
    url: string;
    events: string[] | null;
    delivery: {
      webhook_id: string;
      state: string;
      attempts: number;
      last_status: number | null;
      last_error: string | null;
      next_attempt_at: number | null;
      delivered_at: number | null;
    } | null;
  } | null;
  last_upstream_error: string | null;
}

/**
 * The Response fields OpenAI derives from the request, with the values OpenAI echoes when the
 * request left them out. They fill a job's Response until the upstream has answered (and for a
 * job that never reached it), so every reply is a complete Response at every status.
 */
export function requestEcho(request: Json): Json {
  const reasoning = (request.reasoning ?? {}) as Json;
  const text = (request.text ?? {}) as Json;
  const conversation = request.conversation;
  return {
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    max_tool_calls: request.max_tool_calls ?? null,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    prompt_cache_key: request.prompt_cache_key ?? null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    safety_identifier: request.safety_identifier ?? null,
    service_tier: request.service_tier ?? "auto",
    temperature: request.temperature ?? 1,
    text: { ...text, format: text.format ?? { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: request.tools ?? [],
    top_logprobs: request.top_logprobs ?? 0,
    top_p: request.top_p ?? 1,
    truncation: request.truncation ?? "disabled",
    user: request.user ?? null,
    ...(conversation ? { conversation: typeof conversation === "string" ? { id: conversation } : conversation } : {}),
  };
}

/** Every field of the caller's request that a Response object shows (requestEcho, callerFields). */
const SHOWN_REQUEST_FIELDS = [
  "instructions",
  "max_output_tokens",
  "max_tool_calls",
  "parallel_tool_calls",
  "previous_response_id",
  "prompt_cache_key",
  "reasoning",
  "safety_identifier",
  "service_tier",
  "temperature",
  "text",
  "tool_choice",
  "tools",
  "top_logprobs",
  "top_p",
  "truncation",
  "user",
  "conversation",
  "background",
  "store",
] as const;

/**
 * The part of the caller's request its Response objects are made of:
 * `toResponseObject(job, final, shownRequest(request), …)` is `toResponseObject(job, final, request, …)`.
 * Small where the request is not (its `input` can be megabytes), so it is what status reads keep.
 */
export function shownRequest(request: Json): Json {
  const shown: Json = {};
  for (const key of SHOWN_REQUEST_FIELDS) if (Object.hasOwn(request, key)) shown[key] = request[key];
  return shown;
}

/**
 * A job as an OpenAI Response object: what OpenAI would return for it, field for field, plus the
 * relay's block. `final` is the upstream's final Response (its output, usage, resolved model);
 * `request` the caller's own request, which supplies the request-derived fields and the values
 * callers set themselves (`background`, `store`, `previous_response_id` naming a relay job).
 * `id` is always the relay's job id; upstream ids never appear outside `relay.upstream_id`.
 * No `output_text`: OpenAI's wire has none (the SDKs compute it), and it would double the text.
 */
export function toResponseObject(job: Job, final: Json | null, request: Json, baseUrl: string): Json {
  return { ...wireResponse(job, final, request), relay: relayBlock(job, baseUrl) };
}

/** The Response without the relay's block: stream events and webhook bodies carry this. */
export function wireResponse(job: Job, final: Json | null, request: Json): Json {
  const { output_text: _computed, ...upstream } = final ?? {};
  return {
    ...requestEcho(request),
    ...upstream,
    ...callerFields(job, request),
    object: "response",
    created_at: toUnixSeconds(job.createdAt),
    status: job.status,
    model: (final?.model as string | undefined) ?? job.model,
    // OpenAI sets completed_at only for completed responses.
    completed_at: job.status === "completed" && job.completedAt !== null ? toUnixSeconds(job.completedAt) : null,
    output: Array.isArray(final?.output) ? final.output : [],
    usage: job.usage,
    error: job.error,
    incomplete_details: job.incompleteDetails,
  };
}

/**
 * What the caller sees as set by itself, whatever the upstream echoes: the relay's id, the
 * caller's metadata (not the relay's tag), and `background`/`store`/`previous_response_id` as the
 * caller sent them (the relay always runs jobs in background, stored, under upstream ids).
 */
export function callerFields(job: Pick<Job, "id" | "metadata">, request: Json): Json {
  return {
    id: job.id,
    background: request.background === true,
    store: request.store !== false,
    previous_response_id: request.previous_response_id ?? null,
    metadata: job.metadata,
  };
}

function relayBlock(job: Job, baseUrl: string): RelayBlock {
  const statusUrl = `${baseUrl}/v1/responses/${job.id}`;
  return {
    upstream_id: job.upstreamId,
    status_label: statusLabel(job),
    reason: job.endReason,
    cost_usd: job.costUsd,
    unpriced: job.costUsd === null && job.usage !== null,
    budget: job.budget
      ? {
          max_cost_usd: job.budget.maxCostUsd,
          input_tokens: job.budget.inputTokens,
          max_output_tokens: job.budget.maxOutputTokens,
          worst_case_usd: job.budget.worstCaseUsd,
        }
      : null,
    deadline_at: toUnixSeconds(job.deadlineAt),
    ended_at: isTerminal(job.status) && job.completedAt !== null ? toUnixSeconds(job.completedAt) : null,
    status_url: statusUrl,
    cancel_url: `${statusUrl}/cancel`,
    webhook: job.webhook
      ? {
          url: job.webhook.url,
          events: job.webhook.events ?? null,
          delivery: job.delivery
            ? {
                webhook_id: job.delivery.webhookId,
                state: job.delivery.state,
                attempts: job.delivery.attempts,
                last_status: job.delivery.lastStatus,
                last_error: job.delivery.lastError,
                next_attempt_at: job.delivery.nextAttemptAt === null ? null : toUnixSeconds(job.delivery.nextAttemptAt),
                delivered_at: job.delivery.deliveredAt === null ? null : toUnixSeconds(job.delivery.deliveredAt),
              }
            : null,
        }
      : null,
    last_upstream_error: job.lastUpstreamError,
  };
}

/** Concatenated `output_text` parts of message items, as the SDKs compute it. */
export function outputText(output: unknown[]): string {
  const parts: string[] = [];
  for (const item of output as { type?: string; content?: { type?: string; text?: string }[] }[]) {
    if (item?.type !== "message" || !Array.isArray(item.content)) continue;
    for (const part of item.content)
      if (part?.type === "output_text" && typeof part.text === "string") parts.push(part.text);
  }
  return parts.join("");
}
