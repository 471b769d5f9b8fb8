/**
 * The Responses API operations. Handlers decide the reply but do not write it, so the server can still
 * swap it for a fault ("job created, reply lost") after the work is done.
 */
import { checkCallOutputs, decideAnswer } from "./answer.ts";
import { type Conversation, conversationItems, renderConversation } from "./conversations.ts";
import { conversationNotFound, invalidRequest, responseNotFound } from "./errors.ts";
import { type Item, inputItemsOf } from "./items.ts";
import { answerBytes, capToMaxOutput, Job, outputSeed, REASONING_MODEL } from "./job.ts";
import { planFor } from "./plan.ts";
import { outputItemAt, renderResponse } from "./response-object.ts";
import type { ApiRoute } from "./routes.ts";
import type { SimState } from "./state.ts";
import { contextBytesOf, inputTokensFor } from "./tokens.ts";
import { type CreateRequest, parseJsonBody, validateCreate, validateInclude, type Json } from "./validate.ts";

export type HandlerResult =
  | { kind: "json"; status: number; body: unknown }
  | { kind: "stream"; job: Job; fromSeq: number; includeObfuscation: boolean };

const json = (body: unknown, status = 200): HandlerResult => ({ kind: "json", status, body });

function findJob(state: SimState, id: string | undefined): Job {
  const job = id ? state.store.get(id, state.clock.now()) : undefined;
  if (!job) throw responseNotFound(id ?? "");
  return job;
}

/** The earlier turns a request builds on: its previous response's chain, or its conversation so far. */
function resolveContext(state: SimState, request: CreateRequest): { context: Item[]; conversation?: Conversation } {
  const now = state.clock.now();
  const previousId = request.body.previous_response_id;
  if (typeof previousId === "string") {
    const previous = state.store.get(previousId, now);
    // A response created with store=false never serves as context, even while it is still pollable.
    if (!previous?.request.store) {
      throw invalidRequest(
        `Previous response with id '${previousId}' not found.`,
        "previous_response_id",
        "previous_response_not_found",
      );
    }
    const answered = outputItemAt(previous, now);
    const context = [...previous.context, ...previous.inputItems, ...(answered ? [answered as unknown as Item] : [])];
    return { context };
  }
  if (request.conversationId !== null) {
    const conversation = state.conversations.get(request.conversationId);
    if (!conversation) throw conversationNotFound(request.conversationId);
    return { context: conversationItems(conversation, now), conversation };
  }
  return { context: [] };
}

/**
 * Reasoning models put a reasoning item before the answer. OpenAI always does; the simulator does it only
 * when the request asks about reasoning (`reasoning` set, or `include` of its encrypted content), so the
 * many tests that read `output[0]` as the answer keep working.
 */
const showsReasoning = (request: CreateRequest) =>
  REASONING_MODEL.test(request.model) &&
  (request.body.reasoning != null || request.include.includes("reasoning.encrypted_content"));

function createResponse(state: SimState, rawBody: string): HandlerResult {
  const request = validateCreate(parseJsonBody(rawBody));
  if (request.background && !request.store && state.behaviour.rejectBackgroundWithoutStore) {
    // Exact wording unconfirmed (2025 docs and Azure require store=true for background).
    throw invalidRequest(
      "Background mode requires store=true. Set store to true or remove background.",
      "store",
      "invalid_value",
    );
  }
  const inputItems = inputItemsOf(request.body.input);
  const { context, conversation } = resolveContext(state, request);
  checkCallOutputs(inputItems, context);
  const answer = decideAnswer(request.body, inputItems, context, outputSeed(request.body));
  const planned = planFor(state.behaviour, request.metadata);
  const plan = capToMaxOutput(
    { ...planned, outputBytes: answerBytes(answer, planned.outputBytes) },
    request.model,
    request.body.max_output_tokens,
  );
  const now = state.clock.now();
  const job = new Job(request, now, plan, { answer, inputItems, context, reasoning: showsReasoning(request) });
  conversation?.jobs.push(job);
  state.store.add(job);
  state.stats.created(job.id);
  state.webhooks.watch(job);
  if (request.stream) {
    const options = request.body.stream_options as Record<string, Json> | null | undefined;
    return { kind: "stream", job, fromSeq: 0, includeObfuscation: options?.include_obfuscation !== false };
  }
  return json(renderResponse(job, now));
}

function inputTokens(state: SimState, rawBody: string): HandlerResult {
  const request = validateCreate(parseJsonBody(rawBody), false);
  const inputItems = inputItemsOf(request.body.input);
  const { context } = resolveContext(state, request);
  checkCallOutputs(inputItems, context);
  return json({ object: "response.input_tokens", input_tokens: inputTokensFor(request.body, contextBytesOf(context)) });
}

/** `include` on a query string: `include[]=a&include[]=b` (what the SDK sends) or repeated `include=`. */
const queryInclude = (url: URL) =>
  validateInclude([...url.searchParams.getAll("include[]"), ...url.searchParams.getAll("include")]);

function listInputItems(state: SimState, route: ApiRoute, url: URL): HandlerResult {
  const job = findJob(state, route.id);
  queryInclude(url);
  const limitRaw = url.searchParams.get("limit");
  let limit = 20;
  if (limitRaw !== null) {
    if (!/^-?\d+$/.test(limitRaw)) {
      throw invalidRequest(
        `Invalid type for 'limit': expected an integer, but got '${limitRaw}' instead.`,
        "limit",
        "invalid_type",
      );
    }
    limit = Number(limitRaw);
    if (limit < 1 || limit > 100) {
      const [dir, rel] = limit < 1 ? ["below minimum", ">= 1"] : ["above maximum", "<= 100"];
      throw invalidRequest(
        `Invalid 'limit': integer ${dir} value. Expected a value ${rel}, but got ${limit} instead.`,
        "limit",
        `integer_${dir.replace(" ", "_").replace("minimum", "min").replace("maximum", "max")}_value`,
      );
    }
  }
  const order = url.searchParams.get("order") ?? "desc";
  if (order !== "asc" && order !== "desc") {
    throw invalidRequest(
      `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
      "order",
      "invalid_value",
    );
  }
  const ordered = order === "asc" ? job.inputItems : [...job.inputItems].reverse();
  const after = url.searchParams.get("after");
  // An unknown cursor lists nothing after it rather than starting over.
  const start = after === null ? 0 : ordered.findIndex((item) => item.id === after) + 1 || ordered.length;
  const data = ordered.slice(start, start + limit);
  return json({
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
    has_more: start + limit < ordered.length,
  });
}

function conversationCall(state: SimState, route: ApiRoute, rawBody: string): HandlerResult {
  if (route.action === "create") {
    const body = rawBody.trim() === "" ? {} : parseJsonBody(rawBody);
    const { metadata } = validateCreate({ model: "-", input: "", metadata: body.metadata ?? null });
    if (body.items !== undefined && body.items !== null && !Array.isArray(body.items)) {
      throw invalidRequest("Invalid type for 'items': expected an array.", "items", "invalid_type");
    }
    return json(renderConversation(state.conversations.create(metadata, body.items, state.clock.now())));
  }
  const conversation = route.id ? state.conversations.get(route.id) : undefined;
  if (!conversation) throw conversationNotFound(route.id ?? "");
  if (route.action === "delete") {
    state.conversations.delete(conversation.id);
    return json({ id: conversation.id, object: "conversation.deleted", deleted: true });
  }
  return json(renderConversation(conversation));
}

function tooOldMessage(windowMs: number): string {
  const minutes = windowMs / 60_000;
  const amount = Number.isInteger(minutes) ? String(minutes) : minutes.toFixed(2);
  return `This response can no longer be streamed because it is more than ${amount} ${minutes === 1 ? "minute" : "minutes"} old.`;
}

function streamResponse(state: SimState, route: ApiRoute, url: URL): HandlerResult {
  const job = findJob(state, route.id);
  if (!job.background) {
    throw invalidRequest(
      "This response cannot be streamed because it was not created with background=true.",
      "stream",
      "invalid_request_error",
    );
  }
  if (state.behaviour.streamRequiresStreamCreate && !job.request.stream) {
    // Text unconfirmed: the guide only says such responses cannot be streamed.
    throw invalidRequest(
      "This response cannot be streamed because it was not created with stream=true.",
      "stream",
      "invalid_request_error",
    );
  }
  const now = state.clock.now();
  const windowFrom = state.behaviour.resumeWindowFrom === "created" ? job.createdAt : job.finishedAt;
  if (now - windowFrom > state.behaviour.resumeWindowMs) {
    throw invalidRequest(tooOldMessage(state.behaviour.resumeWindowMs), "stream", "invalid_request_error");
  }
  const cursor = url.searchParams.get("starting_after");
  let fromSeq = 0;
  if (cursor !== null) {
    if (!/^-?\d+$/.test(cursor)) {
      throw invalidRequest(
        `Invalid type for 'starting_after': expected an integer, but got '${cursor}' instead.`,
        "starting_after",
        "invalid_type",
      );
    }
    fromSeq = Number(cursor) + 1;
  }
  state.stats.streamOpened(job.id, cursor === null ? null : Number(cursor));
  return { kind: "stream", job, fromSeq, includeObfuscation: url.searchParams.get("include_obfuscation") !== "false" };
}

function cancelResponse(state: SimState, route: ApiRoute): HandlerResult {
  const job = findJob(state, route.id);
  if (!job.background) throw invalidRequest("Cannot cancel a synchronous response.");
  const now = state.clock.now();
  // Idempotent: a running job is cancelled once; a terminal one (cancelled included) comes back unchanged.
  if (job.cancel(now)) state.webhooks.poke();
  return json(renderResponse(job, now));
}

function deleteResponse(state: SimState, route: ApiRoute): HandlerResult {
  const job = findJob(state, route.id);
  state.store.delete(job.id);
  return json({ id: job.id, object: "response", deleted: true });
}

export function handleApi(state: SimState, route: ApiRoute, url: URL, rawBody: string): HandlerResult {
  switch (route.op) {
    case "create":
      return createResponse(state, rawBody);
    case "retrieve": {
      const job = findJob(state, route.id);
      queryInclude(url);
      return json(renderResponse(job, state.clock.now()));
    }
    case "stream":
      return streamResponse(state, route, url);
    case "cancel":
      return cancelResponse(state, route);
    case "delete":
      return deleteResponse(state, route);
    case "input_items":
      return listInputItems(state, route, url);
    case "input_tokens":
      return inputTokens(state, rawBody);
    case "conversation":
      return conversationCall(state, route, rawBody);
    case "chat":
      // Chat Completions is served by the `ollama` and `chat` flavours only (flavours.ts).
      throw invalidRequest("This server speaks the Responses API only.");
  }
}
