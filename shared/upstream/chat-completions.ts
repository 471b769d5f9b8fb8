/**
 * Responses API ↔ Chat Completions, for upstreams that speak only the latter (llama.cpp's server,
 * many OpenAI-compatible gateways). A Responses request becomes a chat request; the chat stream's
 * chunks become the Responses stream events a caller of OpenAI would have read, ending with the
 * terminal event that carries the whole Response, usage and finish reason mapped
 * (docs/upstream-facts.md, "Servers without background mode").
 */
import type { StreamEvent } from "#shared/ports.ts";

type Json = Record<string, unknown>;

/** The chat request for a Responses request, or why there can be none (a 400 to the caller). */
export type ChatRequest = { ok: true; body: Json } | { ok: false; message: string; param: string };

const refuse = (message: string, param: string): ChatRequest => ({ ok: false, message, param });

/** Roles Chat Completions servers know; `developer` is OpenAI's newer name for `system`. */
const ROLE: Record<string, string> = { user: "user", assistant: "assistant", system: "system", developer: "system" };

/**
 * `instructions` → a system message first, `input` (a string, or items: messages, function calls
 * and their outputs) → messages, sampling and tool fields → their chat names. What has no chat
 * equivalent (built-in tools, files, stored state) is refused with the field that names it.
 */
export function chatRequest(request: Json): ChatRequest {
  for (const field of ["previous_response_id", "conversation", "prompt"] as const)
    if (request[field] !== undefined && request[field] !== null)
      return refuse(`${field} is not supported by a Chat Completions upstream (it keeps no state).`, field);
  const messages: Json[] = [];
  if (typeof request.instructions === "string" && request.instructions)
    messages.push({ role: "system", content: request.instructions });
  const input = request.input;
  if (typeof input === "string") messages.push({ role: "user", content: input });
  else if (Array.isArray(input)) {
    for (const [index, raw] of input.entries()) {
      const item = (raw ?? {}) as Json;
      const type = typeof item.type === "string" ? item.type : "message";
      const param = `input[${index}]`;
      if (type === "message") {
        const role = ROLE[String(item.role)];
        if (!role) return refuse(`Unsupported role '${String(item.role)}'.`, `${param}.role`);
        const content = chatContent(item.content, `${param}.content`);
        if (!content.ok) return content;
        messages.push({ role, content: content.body.content });
      } else if (type === "function_call") {
        const call = { id: item.call_id, type: "function", function: { name: item.name, arguments: item.arguments } };
        const last = messages[messages.length - 1];
        // Consecutive calls of one turn are one assistant message with several tool calls.
        if (last?.role === "assistant" && Array.isArray(last.tool_calls)) (last.tool_calls as Json[]).push(call);
        else messages.push({ role: "assistant", content: null, tool_calls: [call] });
      } else if (type === "function_call_output") {
        const output = typeof item.output === "string" ? item.output : JSON.stringify(item.output ?? "");
        messages.push({ role: "tool", tool_call_id: item.call_id, content: output });
      } else if (type === "reasoning") {
        // Reasoning a model gave earlier: chat servers take none back.
      } else return refuse(`Input items of type '${type}' are not supported by a Chat Completions upstream.`, param);
    }
  } else return refuse("input must be a string or an array of items.", "input");
  if (messages.length === 0) return refuse("The request has no input.", "input");

  const body: Json = { model: request.model, messages, stream: true, stream_options: { include_usage: true } };
  if (typeof request.max_output_tokens === "number") body.max_tokens = request.max_output_tokens;
  for (const field of ["temperature", "top_p", "parallel_tool_calls", "user", "seed"] as const)
    if (request[field] !== undefined && request[field] !== null) body[field] = request[field];
  const reasoning = request.reasoning as Json | null | undefined;
  if (reasoning && typeof reasoning.effort === "string") body.reasoning_effort = reasoning.effort;
  if (Array.isArray(request.tools) && request.tools.length > 0) {
    const tools: Json[] = [];
    for (const [index, raw] of request.tools.entries()) {
      const tool = (raw ?? {}) as Json;
      if (tool.type !== "function")
        return refuse(
          `Tools of type '${String(tool.type)}' are not supported by a Chat Completions upstream.`,
          `tools[${index}]`,
        );
      tools.push({
        type: "function",
        function: {
          name: tool.name,
          ...(tool.description != null ? { description: tool.description } : {}),
          ...(tool.parameters != null ? { parameters: tool.parameters } : {}),
          ...(typeof tool.strict === "boolean" ? { strict: tool.strict } : {}),
        },
      });
    }
    body.tools = tools;
  }
  const choice = request.tool_choice;
  if (typeof choice === "string") body.tool_choice = choice;
  else if (choice && typeof choice === "object" && (choice as Json).type === "function")
    body.tool_choice = { type: "function", function: { name: (choice as Json).name } };
  const format = ((request.text as Json | null | undefined)?.format ?? null) as Json | null;
  if (format?.type === "json_schema")
    body.response_format = {
      type: "json_schema",
      json_schema: {
        name: format.name,
        schema: format.schema,
        ...(format.strict != null ? { strict: format.strict } : {}),
      },
    };
  else if (format?.type === "json_object") body.response_format = { type: "json_object" };
  return { ok: true, body };
}

function chatContent(content: unknown, param: string): ChatRequest {
  if (typeof content === "string") return { ok: true, body: { content } };
  if (!Array.isArray(content)) return refuse("Message content must be a string or a list of parts.", param);
  const parts: Json[] = [];
  for (const [index, raw] of content.entries()) {
    const part = (raw ?? {}) as Json;
    if (part.type === "input_text" || part.type === "output_text" || part.type === "text")
      parts.push({ type: "text", text: part.text });
    else if (part.type === "input_image" && typeof part.image_url === "string")
      parts.push({
        type: "image_url",
        image_url: { url: part.image_url, ...(part.detail ? { detail: part.detail } : {}) },
      });
    else if (part.type === "refusal") parts.push({ type: "text", text: part.refusal });
    else
      return refuse(
        `Content parts of type '${String(part.type)}' are not supported by a Chat Completions upstream.`,
        `${param}[${index}]`,
      );
  }
  // One text part is sent as a plain string: the form every chat server reads.
  const only = parts.length === 1 ? parts[0] : undefined;
  return { ok: true, body: { content: only?.type === "text" ? only.text : parts } };
}

/** How a chat stream's end maps to the Response's. */
function outcome(finish: string | null): { status: string; incomplete: { reason: string } | null } {
  if (finish === "length") return { status: "incomplete", incomplete: { reason: "max_output_tokens" } };
  if (finish === "content_filter") return { status: "incomplete", incomplete: { reason: "content_filter" } };
  return { status: "completed", incomplete: null };
}

interface ToolCallState {
  outputIndex: number;
  itemId: string;
  callId: string;
  name: string;
  arguments: string;
}

export interface TranslatorOptions {
  /** Stable per job (item ids derive from it), so a rerun's items keep the ids readers saw. */
  idSeed: string;
  model: string;
  /** Unix seconds. */
  createdAt: number;
  /** Unix seconds now, for `completed_at` (the relay's clock, so injected time holds). */
  now: () => number;
}

/**
 * Folds a chat stream into Responses stream events, numbered from 0: `response.created` and
 * `response.in_progress` when the stream opens; the message item and its content part opened at
 * the first text; text deltas; function calls as `function_call` items with argument deltas; and
 * at the end every item closed, then `response.completed` (or `response.incomplete` for `length`)
 * with the whole Response and its usage.
 */
export class ChatTranslator {
  readonly #options: TranslatorOptions;
  #seq = 0;
  #model: string;
  #text: { outputIndex: number; itemId: string; text: string } | null = null;
  readonly #calls = new Map<number, ToolCallState>();
  #nextIndex = 0;
  #finish: string | null = null;
  #usage: Json | null = null;

  constructor(options: TranslatorOptions) {
    this.#options = options;
    this.#model = options.model;
  }

  #event(type: string, fields: Json): StreamEvent {
    return { type, sequence_number: this.#seq++, ...fields };
  }

  #snapshot(status: string, output: Json[] = [], extra: Json = {}): Json {
    return {
      id: `resp_${this.#options.idSeed}`,
      object: "response",
      created_at: this.#options.createdAt,
      status,
      model: this.#model,
      output,
      usage: null,
      error: null,
      incomplete_details: null,
      completed_at: null,
      ...extra,
    };
  }

  opened(): StreamEvent[] {
    return [
      this.#event("response.created", { response: this.#snapshot("in_progress") }),
      this.#event("response.in_progress", { response: this.#snapshot("in_progress") }),
    ];
  }

  /** One parsed `chat.completion.chunk`. */
  chunk(chunk: Json): StreamEvent[] {
    const out: StreamEvent[] = [];
    if (typeof chunk.model === "string" && chunk.model) this.#model = chunk.model;
    if (chunk.usage && typeof chunk.usage === "object") this.#usage = chunk.usage as Json;
    const choice = (Array.isArray(chunk.choices) ? chunk.choices[0] : undefined) as Json | undefined;
    if (!choice) return out;
    const delta = (choice.delta ?? {}) as Json;
    if (typeof delta.content === "string" && delta.content !== "") {
      if (!this.#text) {
        const outputIndex = this.#nextIndex++;
        const itemId = `msg_${this.#options.idSeed}_${outputIndex}`;
        this.#text = { outputIndex, itemId, text: "" };
        out.push(
          this.#event("response.output_item.added", {
            output_index: outputIndex,
            item: { id: itemId, type: "message", status: "in_progress", role: "assistant", content: [] },
          }),
          this.#event("response.content_part.added", {
            item_id: itemId,
            output_index: outputIndex,
            content_index: 0,
            part: { type: "output_text", text: "", annotations: [], logprobs: [] },
          }),
        );
      }
      this.#text.text += delta.content;
      out.push(
        this.#event("response.output_text.delta", {
          item_id: this.#text.itemId,
          output_index: this.#text.outputIndex,
          content_index: 0,
          delta: delta.content,
          logprobs: [],
        }),
      );
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const raw of delta.tool_calls as Json[]) {
        const index = typeof raw.index === "number" ? raw.index : 0;
        const fn = (raw.function ?? {}) as Json;
        let call = this.#calls.get(index);
        if (!call) {
          const outputIndex = this.#nextIndex++;
          call = {
            outputIndex,
            itemId: `fc_${this.#options.idSeed}_${outputIndex}`,
            callId: typeof raw.id === "string" && raw.id ? raw.id : `call_${this.#options.idSeed}_${outputIndex}`,
            name: typeof fn.name === "string" ? fn.name : "",
            arguments: "",
          };
          this.#calls.set(index, call);
          out.push(
            this.#event("response.output_item.added", {
              output_index: outputIndex,
              item: {
                id: call.itemId,
                type: "function_call",
                status: "in_progress",
                call_id: call.callId,
                name: call.name,
                arguments: "",
              },
            }),
          );
        }
        if (typeof fn.arguments === "string" && fn.arguments !== "") {
          call.arguments += fn.arguments;
          out.push(
            this.#event("response.function_call_arguments.delta", {
              item_id: call.itemId,
              output_index: call.outputIndex,
              delta: fn.arguments,
            }),
          );
        }
      }
    }
    if (typeof choice.finish_reason === "string") this.#finish = choice.finish_reason;
    return out;
  }

  /** Whether the stream has said how it ended (a chat stream cut before that is a broken run). */
  get finished(): boolean {
    return this.#finish !== null;
  }

  /** The closing events and the terminal one, once the chat stream is over. */
  end(): StreamEvent[] {
    const { status, incomplete } = outcome(this.#finish);
    const itemStatus = status === "completed" ? "completed" : "incomplete";
    const out: StreamEvent[] = [];
    const output: [number, Json][] = [];
    if (this.#text) {
      const { outputIndex, itemId, text } = this.#text;
      const part = { type: "output_text", text, annotations: [], logprobs: [] };
      const where = { item_id: itemId, output_index: outputIndex, content_index: 0 };
      const item = { id: itemId, type: "message", status: itemStatus, role: "assistant", content: [part] };
      out.push(
        this.#event("response.output_text.done", { ...where, text, logprobs: [] }),
        this.#event("response.content_part.done", { ...where, part }),
        this.#event("response.output_item.done", { output_index: outputIndex, item }),
      );
      output.push([outputIndex, item]);
    }
    for (const call of this.#calls.values()) {
      const item = {
        id: call.itemId,
        type: "function_call",
        status: itemStatus,
        call_id: call.callId,
        name: call.name,
        arguments: call.arguments,
      };
      out.push(
        this.#event("response.function_call_arguments.done", {
          item_id: call.itemId,
          output_index: call.outputIndex,
          name: call.name,
          arguments: call.arguments,
        }),
        this.#event("response.output_item.done", { output_index: call.outputIndex, item }),
      );
      output.push([call.outputIndex, item]);
    }
    const response = this.#snapshot(
      status,
      output.sort(([a], [b]) => a - b).map(([, item]) => item),
      {
        usage: responsesUsage(this.#usage),
        incomplete_details: incomplete,
        completed_at: status === "completed" ? this.#options.now() : null,
      },
    );
    out.push(this.#event(status === "completed" ? "response.completed" : "response.incomplete", { response }));
    return out;
  }
}

/** Chat usage (`prompt_tokens`, `completion_tokens`) in the Responses API's names. */
function responsesUsage(usage: Json | null): Json | null {
  if (!usage) return null;
  const num = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : 0);
  const input = num(usage.prompt_tokens);
  const output = num(usage.completion_tokens);
  const promptDetails = (usage.prompt_tokens_details ?? {}) as Json;
  const completionDetails = (usage.completion_tokens_details ?? {}) as Json;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: num(promptDetails.cached_tokens) },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: num(completionDetails.reasoning_tokens) },
    total_tokens: typeof usage.total_tokens === "number" ? usage.total_tokens : input + output,
  };
}
