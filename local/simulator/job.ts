/**
 * One simulated response. Its state is a pure function of the plan, the clock and two facts that can only
 * be set once: when it was cancelled and whether it was deleted.
 */
import type { Answer } from "./answer.ts";
import type { Item } from "./items.ts";
import type { JobPlan } from "./plan.ts";
import { hash32, randomId } from "./random.ts";
import { generateText, TextCache } from "./text.ts";
import { contextBytesOf } from "./tokens.ts";
import { countAvailable, planTimeline, type Timeline } from "./timeline.ts";
import type { CreateRequest } from "./validate.ts";

export type ResponseStatus = "queued" | "in_progress" | "completed" | "failed" | "cancelled" | "incomplete";
export const isTerminal = (s: ResponseStatus) => s !== "queued" && s !== "in_progress";

const textCache = new TextCache();

/** The output depends only on what the model would see, so the same request gives the same text. */
export function outputSeed(body: CreateRequest["body"]): number {
  return hash32(JSON.stringify([body.model, body.input ?? null, body.instructions ?? null]));
}

/** What a job knows besides the request: what the model answers and what it read. */
export interface JobInputs {
  answer: Answer;
  /** The request's input as stored items (what `input_items` lists). */
  inputItems: Item[];
  /** Earlier turns the model reads (the previous response chain, or the conversation so far). */
  context: Item[];
  /** Whether a reasoning item precedes the answer. */
  reasoning?: boolean;
}

const PLAIN: JobInputs = { answer: { kind: "message", prefix: "", exact: false }, inputItems: [], context: [] };

export const REASONING_MODEL = /^(o\d|gpt-5|.*deep-research)/;

/** The text length an answer needs: exact answers fix it; free text is at least its opening. */
export function answerBytes(answer: Answer, planned: number): number {
  if (answer.kind === "function_call") return answer.arguments.length;
  return answer.exact ? answer.prefix.length : Math.max(planned, answer.prefix.length);
}

/** Output tokens for `bytes` of text: ~4 bytes a token, plus reasoning for reasoning models. */
export function outputTokensFor(model: string, bytes: number): { text: number; reasoning: number } {
  const text = Math.ceil(bytes / 4);
  return { text, reasoning: REASONING_MODEL.test(model) ? Math.ceil(text / 2) + 64 : 0 };
}

/**
 * As OpenAI does with `max_output_tokens` (reasoning tokens count toward it): a plan whose output
 * would not fit ends `incomplete` (reason max_output_tokens) after the text that fits.
 */
export function capToMaxOutput(plan: JobPlan, model: string, maxOutputTokens: unknown): JobPlan {
  if (typeof maxOutputTokens !== "number" || plan.outcome !== "completed") return plan;
  const fits = (bytes: number) => {
    const { text, reasoning } = outputTokensFor(model, bytes);
    return text + reasoning <= maxOutputTokens;
  };
  if (fits(plan.outputBytes)) return plan;
  let lo = 0;
  let hi = plan.outputBytes;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  // An incomplete run writes half its planned bytes (timeline.ts): plan twice what fits.
  return { ...plan, outcome: "incomplete", outputBytes: lo * 2 };
}

function composeText(answer: Answer, seed: number, bytes: number): string {
  if (answer.kind === "function_call") return answer.arguments.slice(0, bytes);
  if (answer.exact) return answer.prefix.slice(0, bytes);
  const { prefix } = answer;
  return (prefix + generateText(seed, Math.max(0, bytes - prefix.length))).slice(0, bytes);
}

export class Job {
  readonly id = randomId("resp_");
  readonly messageId = randomId("msg_");
  readonly reasoningId = randomId("rs_");
  readonly timeline: Timeline;
  readonly seed: number;
  readonly answer: Answer;
  readonly inputItems: Item[];
  readonly context: Item[];
  /** Bytes of `context`, counted as input tokens. */
  readonly contextBytes: number;
  cancelledAt: number | null = null;
  deleted = false;

  constructor(
    readonly request: CreateRequest,
    readonly createdAt: number,
    readonly plan: JobPlan,
    inputs: JobInputs = PLAIN,
  ) {
    this.answer = inputs.answer;
    this.inputItems = inputs.inputItems;
    this.context = inputs.context;
    this.contextBytes = contextBytesOf(inputs.context);
    this.timeline = planTimeline(createdAt, plan, request.background, {
      contentPart: this.answer.kind === "message",
      reasoning: inputs.reasoning ?? false,
    });
    this.seed = outputSeed(request.body);
  }

  /** Where the answer sits in `output` (after the reasoning item, if any). */
  get answerIndex(): number {
    return this.timeline.reasoningAdded >= 0 ? 1 : 0;
  }

  /** The id of the output item (message or function call). */
  get itemId(): string {
    return this.answer.kind === "function_call" ? this.answer.itemId : this.messageId;
  }

  get background(): boolean {
    return this.request.background;
  }

  /** Status ignoring cancellation: what the run itself reaches by time t. */
  #runStatusAt(t: number): ResponseStatus {
    if (t < this.timeline.startAt) return "queued";
    if (t < this.timeline.endAt) return "in_progress";
    const outcome = this.plan.outcome;
    return outcome === "stuck_queued" ? "queued" : outcome;
  }

  statusAt(t: number): ResponseStatus {
    if (this.cancelledAt !== null && t >= this.cancelledAt) return "cancelled";
    return this.#runStatusAt(t);
  }

  /** When it became (or will become) terminal; Infinity if never (stuck and not cancelled). */
  get finishedAt(): number {
    return this.cancelledAt ?? this.timeline.endAt;
  }

  /** Cancels if still running at t; returns false when it was already terminal (then nothing changes). */
  cancel(t: number): boolean {
    if (isTerminal(this.statusAt(t))) return false;
    this.cancelledAt = t;
    return true;
  }

  /** Events a stream may send at time t (a cancel freezes the log at the cancel time). */
  availableEvents(t: number): number {
    const horizon = this.cancelledAt === null ? t : Math.min(t, this.cancelledAt);
    return countAvailable(this.timeline.events, horizon);
  }

  /** True once no further event will ever become available. */
  streamFinishedAt(t: number): boolean {
    if (this.deleted) return true;
    if (this.cancelledAt !== null && t >= this.cancelledAt) return true;
    return this.availableEvents(t) === this.timeline.events.length;
  }

  /** The text the run produces (possibly partial for failed/incomplete outcomes). */
  text(): string {
    const bytes = this.timeline.generatedBytes;
    return textCache.get(`${this.id}:${bytes}`, () => composeText(this.answer, this.seed, bytes));
  }

  deltaText(i: number): string {
    const size = this.timeline.deltaSize;
    return this.text().slice(i * size, (i + 1) * size);
  }

  /** Deltas available at t, so partial output always equals what streams have sent. */
  deltasAvailable(t: number): number {
    const { firstDelta, deltaCount } = this.timeline;
    return Math.max(0, Math.min(deltaCount, this.availableEvents(t) - firstDelta));
  }

  textAt(t: number): string {
    const n = this.deltasAvailable(t);
    return n === this.timeline.deltaCount ? this.text() : this.text().slice(0, n * this.timeline.deltaSize);
  }
}
