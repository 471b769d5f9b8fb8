/**
 * The public shapes of the Responses API simulator: options, behaviour knobs, faults, stats.
 * Kept free of logic so the CLI, the HTTP control endpoints and tests share one vocabulary.
 */
import type { Clock } from "#shared/clock.ts";

export type SimOutcome = "completed" | "failed" | "incomplete" | "stuck_queued";
export const SIM_OUTCOMES: readonly SimOutcome[] = ["completed", "failed", "incomplete", "stuck_queued"];

/**
 * The operations the simulator counts and can fault. `stream` is `GET …?stream=true` only; `conversation` is
 * any `/conversations` call.
 */
export type SimOp =
  | "create"
  | "retrieve"
  | "stream"
  | "cancel"
  | "delete"
  | "input_items"
  | "input_tokens"
  | "conversation"
  | "chat";
export const SIM_OPS: readonly SimOp[] = [
  "create",
  "retrieve",
  "stream",
  "cancel",
  "delete",
  "input_items",
  "input_tokens",
  "conversation",
  "chat",
];

export interface SimBehaviour {
  /** Time a job stays `queued` (clock ms). */
  queuedMs: number;
  /** Time a job stays `in_progress` (clock ms). */
  runMs: number;
  /** Size of the output text in bytes (ASCII, so also characters). */
  outputBytes: number;
  /** Real ms added before every HTTP reply (the "realistic latency" knob for the benchmark). */
  latencyMs: number;
  /** After a response finished (or was created: `resumeWindowFrom`) more than this long ago (clock ms), `?stream=true` is refused with 400. */
  resumeWindowMs: number;
  /**
   * Where the resume window counts from: the response's end (`finished`, the lenient reading) or
   * its creation (`created`, the strict one: "more than 5 minutes old"). Which one OpenAI applies
   * is unconfirmed, so the relay must work under both.
   */
  resumeWindowFrom: "finished" | "created";
  /**
   * Cut every stream connection after N events (socket destroyed, no terminal event); null = never. Read when a
   * connection opens, so it also hits existing jobs; `sim_stream_cut_after` metadata overrides it per job.
   */
  streamCutAfter: number | null;
  outcome: SimOutcome;
  /** `background: true` with `store: false` -> 400 (2025 docs); false = accept and forget ~10 min after the end (late-2026 docs). */
  rejectBackgroundWithoutStore: boolean;
  /**
   * The background guide says a background response created without `stream: true` cannot be streamed later;
   * the error text is unconfirmed, so this is off by default (the relay may resume streams of polled jobs).
   */
  streamRequiresStreamCreate: boolean;
}

export const DEFAULT_BEHAVIOUR: SimBehaviour = {
  queuedMs: 1000,
  runMs: 4000,
  outputBytes: 600,
  latencyMs: 0,
  resumeWindowMs: 5 * 60_000,
  resumeWindowFrom: "finished",
  streamCutAfter: null,
  outcome: "completed",
  rejectBackgroundWithoutStore: true,
  streamRequiresStreamCreate: false,
};

export interface SimFault {
  /** Which operation it hits; default "any". */
  op?: SimOp | "any";
  /** HTTP status to answer with (429 also gets Retry-After unless the code is insufficient_quota). */
  status?: number;
  retryAfterSeconds?: number;
  /** e.g. "insufficient_quota", "rate_limit_exceeded", "server_is_overloaded". */
  code?: string;
  /** Real ms to wait before answering (alone = a slow but normal reply). */
  delayMs?: number;
  /** How many requests it hits (default 1); Infinity allowed. */
  times?: number;
  /** 0..1: each matching request is hit with this chance (seeded PRNG, so runs repeat). */
  probability?: number;
  /** Destroy the socket without replying (the client sees a network error). */
  dropConnection?: boolean;
  /**
   * Apply the status / drop AFTER the request was handled: the job is created (or cancelled, deleted) but the
   * client never learns it. This is the "lost reply" case that makes a retried create start a second job.
   */
  afterHandling?: boolean;
}

export interface SimStats {
  /** API requests seen (control endpoints under /_sim/ excluded), faulted and unauthorised ones included. */
  requests: number;
  ops: Record<SimOp, number>;
  /** Requests a fault was applied to. */
  faultsApplied: number;
  /** Ids of responses created, in order. */
  createdIds: string[];
  /** Each `?stream=true` served, in order: the response and its `starting_after` (null: none). */
  streamsOpened: { id: string; startingAfter: number | null }[];
  webhooks: { delivered: number; failedAttempts: number };
}

export interface WebhookConfig {
  url: string;
  /** `whsec_…` secret (base64 after the prefix), as `standardwebhooks` expects. */
  secret: string;
  /** Real ms to wait before the first attempt (a late delivery). */
  delayMs?: number;
  /** Extra copies of each delivery with the same webhook-id (at-least-once semantics). */
  duplicates?: number;
  /**
   * Real ms before each retry of a failed attempt (default 0.25 s, 1 s). OpenAI keeps retrying
   * with backoff for up to 72 h; a longer list models a receiver that is down for a while.
   */
  retryDelaysMs?: number[];
  /**
   * Clock for the `webhook-timestamp` header. Default: the wall clock, because receivers check it against
   * their own wall clock with a 5-minute tolerance; the body's `created_at` always uses the simulator clock.
   */
  timestampClock?: Clock;
}

export interface SimulatorOptions {
  /** 0/undefined = a free port on 127.0.0.1. */
  port?: number;
  /** Injected time; default systemClock. */
  clock?: Clock;
  /** Base path /openai/v1 and `api-key` header auth (Bearer with the key is accepted too, as Azure v1 does). */
  azure?: boolean;
  /**
   * Which server it plays: `openai` (default: the Responses API with background mode), `ollama`
   * (stateless `/v1/responses` that ignores `background`, plus Chat Completions) or `chat`
   * (Chat Completions only). See `flavours.ts`.
   */
  flavour?: "openai" | "ollama" | "chat";
  /** If set, requests must carry it (Bearer, or api-key in azure mode) else 401. */
  apiKey?: string;
  /** Global defaults. */
  behaviour?: Partial<SimBehaviour>;
  /** Seed of the PRNG behind probabilistic faults. */
  seed?: number;
  log?: (line: string) => void;
}

export interface Simulator {
  /** Base URL an OpenAI client uses: http://127.0.0.1:PORT/v1 (or …/openai/v1 in azure mode). */
  url: string;
  /** http://127.0.0.1:PORT */
  origin: string;
  configure(patch: Partial<SimBehaviour>): void;
  behaviour(): SimBehaviour;
  injectFault(f: SimFault): void;
  clearFaults(): void;
  stats(): SimStats;
  resetStats(): void;
  /** The Response object as a GET would return it now (undefined if unknown, deleted or expired). */
  getResponse(id: string): object | undefined;
  setWebhook(cfg: WebhookConfig | null): void;
  close(): Promise<void>;
}
