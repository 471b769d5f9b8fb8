/**
 * Servers without background mode, for the relay's emulated background (docs/upstream-facts.md,
 * "Servers without background mode"):
 *
 * - `ollama`: Ollama's OpenAI layer. `POST /v1/responses` is stateless: `background` is read but
 *   ignored, so the reply is held until the whole run is over and is the finished Response
 *   (`store: false`, `metadata: {}`); nothing is kept, so every other `/v1/responses…` call is a
 *   404 with a plain-text body, as its router answers. `POST /v1/chat/completions` as below.
 * - `chat`: a server that speaks only Chat Completions (llama.cpp's server and many others):
 *   `POST /v1/chat/completions`, streamed chunk by chunk on the simulator's clock.
 *
 * Both read the global knobs (`runMs`, `outputBytes`, `streamCutAfter`, `outcome: incomplete`);
 * the Responses flavour also the per-job `sim_*` metadata, which Ollama accepts and ignores.
 */
import type { IncomingMessage } from "node:http";
import { decideAnswer } from "./answer.ts";
import { faultError, invalidRequest } from "./errors.ts";
import { inputItemsOf } from "./items.ts";
import { answerBytes, Job, outputSeed } from "./job.ts";
import { planFor } from "./plan.ts";
import { hash32, randomId } from "./random.ts";
import type { Exchange } from "./reply.ts";
import { renderResponse } from "./response-object.ts";
import { pumpStream } from "./sse.ts";
import type { SimState } from "./state.ts";
import { generateText } from "./text.ts";
import { sleep } from "./ticker.ts";
import type { SimOp } from "./types.ts";
import { parseJsonBody, validateCreate } from "./validate.ts";

export type SimFlavour = "openai" | "ollama" | "chat";

/** Which counted operation a flavoured request is (null: a route this server does not have). */
export function flavourOp(flavour: SimFlavour, method: string, path: string): SimOp | null {
  if (method === "POST" && path === "/v1/chat/completions") return "chat";
  if (flavour === "ollama" && method === "POST" && path === "/v1/responses") return "create";
  return null;
}

/** Go's router answers unknown routes with a bare text body, not JSON. */
export function plainNotFound(ex: Exchange): void {
  ex.status = 404;
  ex.res.writeHead(404, { "content-type": "text/plain" }).end("404 page not found");
}

export async function handleFlavoured(state: SimState, ex: Exchange, op: SimOp, rawBody: string): Promise<void> {
  if (op === "chat") return chatCompletion(state, ex, rawBody);
  return ollamaResponse(state, ex, rawBody);
}

const gone = (req: IncomingMessage) => req.socket.destroyed;

/** Ollama's `/v1/responses`: `background` ignored, the reply held until the run ends. */
async function ollamaResponse(state: SimState, ex: Exchange, rawBody: string): Promise<void> {
  // `previous_response_id` is accepted and ignored too: each request stands alone.
  const parsed = validateCreate(parseJsonBody(rawBody));
  const request = { ...parsed, background: false, store: false };
  const inputItems = inputItemsOf(request.body.input);
  const answer = decideAnswer(request.body, inputItems, [], outputSeed(request.body));
  const planned = planFor(state.behaviour, request.metadata);
  const plan = { ...planned, queuedMs: 0, outputBytes: answerBytes(answer, planned.outputBytes) };
  const job = new Job(request, state.clock.now(), plan, { answer, inputItems, context: [] });
  state.stats.created(job.id);
  if (request.stream) {
    ex.startEventStream();
    await pumpStream({
      res: ex.res,
      job,
      fromSeq: 0,
      clock: state.clock,
      ticker: state.ticker,
      cutAfter: job.plan.streamCutAfter === undefined ? state.behaviour.streamCutAfter : job.plan.streamCutAfter,
      includeObfuscation: false,
      stopped: () => state.closing,
    });
    return;
  }
  while (!gone(ex.req) && !state.closing && !job.streamFinishedAt(state.clock.now())) await state.ticker.wait();
  if (gone(ex.req)) return;
  ex.json(200, {
    ...renderResponse(job, state.clock.now()),
    background: parsed.background,
    store: false,
    metadata: {},
  });
}

interface ChatPlan {
  id: string;
  model: string;
  created: number;
  text: string;
  finish: "stop" | "length";
  /** Clock ms at which each piece of text becomes available. */
  pieces: { at: number; text: string }[];
  endAt: number;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

function chatPlan(state: SimState, body: Record<string, unknown>): ChatPlan {
  const now = state.clock.now();
  const seed = hash32(JSON.stringify([body.model, body.messages]));
  const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : null;
  let bytes = state.behaviour.outputBytes;
  let finish: "stop" | "length" = "stop";
  if (state.behaviour.outcome === "incomplete") {
    bytes = Math.floor(bytes / 2);
    finish = "length";
  }
  // About four bytes a token, as the Responses flavour counts.
  if (maxTokens !== null && maxTokens * 4 < bytes) {
    bytes = maxTokens * 4;
    finish = "length";
  }
  const text = generateText(seed, bytes);
  const size = Math.max(16, Math.ceil(text.length / 200));
  const count = Math.ceil(text.length / size);
  const runMs = state.behaviour.runMs;
  const pieces = Array.from({ length: count }, (_, i) => ({
    at: now + Math.floor((runMs * (i + 1)) / (count + 1)),
    text: text.slice(i * size, (i + 1) * size),
  }));
  const prompt = 8 + Math.ceil(JSON.stringify(body.messages).length / 4);
  const completion = Math.ceil(text.length / 4);
  return {
    id: randomId("chatcmpl-", 12),
    model: String(body.model),
    created: Math.floor(now / 1000),
    text,
    finish,
    pieces,
    endAt: now + runMs,
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

function validateChat(rawBody: string): Record<string, unknown> {
  const body = parseJsonBody(rawBody) as Record<string, unknown>;
  if (typeof body.model !== "string" || !body.model)
    throw invalidRequest("you must provide a model parameter", "model", "missing_required_parameter");
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    throw invalidRequest("[] is too short - 'messages'", "messages", "invalid_value");
  for (const message of body.messages as { role?: unknown }[]) {
    if (!["system", "user", "assistant", "tool", "developer"].includes(String(message?.role)))
      throw invalidRequest(`Invalid role: ${String(message?.role)}`, "messages", "invalid_value");
  }
  return body;
}

/** `/v1/chat/completions`, streamed on the clock (or held until the end without `stream`). */
async function chatCompletion(state: SimState, ex: Exchange, rawBody: string): Promise<void> {
  const body = validateChat(rawBody);
  const plan = chatPlan(state, body);
  state.stats.created(plan.id);
  const base = { id: plan.id, object: "chat.completion.chunk", created: plan.created, model: plan.model };
  if (body.stream !== true) {
    while (!gone(ex.req) && !state.closing && state.clock.now() < plan.endAt) await state.ticker.wait();
    if (gone(ex.req)) return;
    ex.json(200, {
      id: plan.id,
      object: "chat.completion",
      created: plan.created,
      model: plan.model,
      choices: [{ index: 0, message: { role: "assistant", content: plan.text }, finish_reason: plan.finish }],
      usage: plan.usage,
    });
    return;
  }
  const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  const cutAfter = state.behaviour.streamCutAfter;
  ex.startEventStream();
  let sent = 0;
  const send = async (chunk: object): Promise<boolean> => {
    if (cutAfter !== null && sent >= cutAfter) {
      // As a crashed server or a proxy would: the body just stops, unterminated.
      ex.res.socket?.destroy();
      return false;
    }
    sent += 1;
    await new Promise<void>((resolve) => ex.res.write(`data: ${JSON.stringify(chunk)}\n\n`, () => resolve()));
    return true;
  };
  if (
    !(await send({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }))
  )
    return;
  let next = 0;
  while (!gone(ex.req) && !state.closing) {
    const now = state.clock.now();
    while (next < plan.pieces.length && plan.pieces[next]!.at <= now) {
      const piece = plan.pieces[next++]!;
      if (!(await send({ ...base, choices: [{ index: 0, delta: { content: piece.text }, finish_reason: null }] })))
        return;
    }
    if (next >= plan.pieces.length && now >= plan.endAt) break;
    await state.ticker.wait();
  }
  if (gone(ex.req) || state.closing) return;
  if (!(await send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: plan.finish }] }))) return;
  if (includeUsage && !(await send({ ...base, choices: [], usage: plan.usage }))) return;
  ex.res.end("data: [DONE]\n\n");
}

/** A fault for a flavoured route, applied the way the main server applies its own. */
export async function flavourFault(state: SimState, ex: Exchange, op: SimOp): Promise<boolean> {
  const fault = state.faults.take(op);
  if (!fault) return false;
  state.stats.fault();
  if (fault.delayMs) await sleep(fault.delayMs);
  if (fault.dropConnection) {
    ex.drop();
    return true;
  }
  if (fault.status !== undefined) {
    const error = faultError(fault.status, fault.code, fault.retryAfterSeconds, { azure: false });
    ex.json(error.status, error.body, error.headers);
    return true;
  }
  return false;
}
