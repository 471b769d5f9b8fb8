/**
 * The Responses API operations. Handlers decide the reply but do not write it, so the server can still
 * swap it for a fault ("job created, reply lost") after the work is done.
 */
import { invalidRequest, responseNotFound } from "./errors.ts";
import { Job } from "./job.ts";
import { planFor } from "./plan.ts";
import { renderResponse } from "./response-object.ts";
import type { ApiRoute } from "./routes.ts";
import type { SimState } from "./state.ts";
import { parseJsonBody, validateCreate, type Json } from "./validate.ts";

export type HandlerResult =
  | { kind: "json"; status: number; body: unknown }
  | { kind: "stream"; job: Job; fromSeq: number; includeObfuscation: boolean };

const json = (body: unknown, status = 200): HandlerResult => ({ kind: "json", status, body });

function findJob(state: SimState, id: string | undefined): Job {
  const job = id ? state.store.get(id, state.clock.now()) : undefined;
  if (!job) throw responseNotFound(id ?? "");
  return job;
}

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
  const previous = request.body.previous_response_id;
  if (typeof previous === "string" && !state.store.get(previous, state.clock.now())) {
    throw invalidRequest(
      `Previous response with id '${previous}' not found.`,
      "previous_response_id",
      "previous_response_not_found",
    );
  }
  const plan = planFor(state.behaviour, request.metadata);
  const now = state.clock.now();
  const job = new Job(request, now, plan);
  state.store.add(job);
  state.stats.created(job.id);
  state.webhooks.watch(job);
  if (request.stream) {
    const options = request.body.stream_options as Record<string, Json> | null | undefined;
    return { kind: "stream", job, fromSeq: 0, includeObfuscation: options?.include_obfuscation !== false };
  }
  return json(renderResponse(job, now));
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
  if (now - job.finishedAt > state.behaviour.resumeWindowMs) {
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
    case "retrieve":
      return json(renderResponse(findJob(state, route.id), state.clock.now()));
    case "stream":
      return streamResponse(state, route, url);
    case "cancel":
      return cancelResponse(state, route);
    case "delete":
      return deleteResponse(state, route);
  }
}
