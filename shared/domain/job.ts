/**
 * The job: one caller request relayed to one upstream background response.
 * `status` is always one of OpenAI's six. When the relay itself ends a job (its deadline passed, it
 * sat queued too long, its create was lost), `status` says what OpenAI would say of such a job and
 * `endReason` carries the relay's own reason.
 */
export const JOB_STATUSES = ["queued", "in_progress", "completed", "failed", "cancelled", "incomplete"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled", "incomplete"]);
export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.has(status);
/** Whether a string (a query parameter, an upstream field) is one of the job's statuses. */
export const isJobStatus = (status: unknown): status is JobStatus =>
  (JOB_STATUSES as readonly unknown[]).includes(status);
/**
 * The metadata key that ties an upstream response back to its job (crash recovery, OpenAI's
 * webhooks, the drills' checks): an upstream create carries `relay_job_id: <job id>` whenever
 * the caller left one of OpenAI's 16 metadata slots free.
 */
export const JOB_ID_METADATA_KEY = "relay_job_id";

/**
 * How the relay learns of a running job's end: `stream` (the poller holds the upstream's stream
 * of it: the end arrives as an event), `push` (OpenAI's verified webhooks are arriving: polls are
 * only a backstop), `poll` (polling on the usual schedule).
 */
export type Watch = "stream" | "push" | "poll";

/**
 * Whether OpenAI's own webhooks can tell of this job's end: only the primary upstream's responses
 * (their ids are bare; every other upstream's carry `<name>:`, shared/upstream/upstream-registry.ts)
 * live in the OpenAI project whose webhooks point at the relay.
 */
export function reachedByOpenAIWebhooks(job: Pick<Job, "upstreamId">): boolean {
  return job.upstreamId !== null && !job.upstreamId.includes(":");
}

/**
 * What a relay job id may look like: `resp_` + 40 hex today, with room for other suffixes but not
 * for huge ones (DynamoDB keys stop at 2048 bytes). Checked before any lookup.
 */
export const isJobIdShaped = (value: unknown): value is string =>
  typeof value === "string" && /^resp_[A-Za-z0-9_-]{1,128}$/.test(value);

/**
 * Legal moves. Terminal states are absorbing; `queued` may skip `in_progress` (a short job can
 * finish between two polls). Every transition is also fenced by the item's version (store layer).
 */
const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  queued: ["in_progress", "completed", "failed", "cancelled", "incomplete"],
  in_progress: ["completed", "failed", "cancelled", "incomplete"],
  completed: [],
  failed: [],
  cancelled: [],
  incomplete: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return from === to ? !isTerminal(from) : TRANSITIONS[from].includes(to);
}

/**
 * Where the upstream create stands. `pending`: not sent yet (safe to send). `sent`: a create is in
 * flight or was lost in a crash (never re-sent: that could start a second, billed response).
 * `unconfirmed`: it may have reached the upstream and its answer was lost; the relay is looking
 * for the response (docs/decisions/0003-ambiguous-creates.md). `done`: the upstream id is known.
 * The lifecycle's phases are built on it (shared/domain/lifecycle.ts).
 */
export type CreateState = "pending" | "sent" | "unconfirmed" | "done";

/**
 * Why the relay itself ended a job (the Response's `status` and `error` stay within OpenAI's
 * values; this goes under `relay.reason`).
 */
export type EndReasonCode =
  | "deadline_exceeded"
  | "queued_too_long"
  | "upstream_create_interrupted"
  | "upstream_not_found"
  | "upstream_rejected"
  | "worker_lost";

export interface EndReason {
  code: EndReasonCode;
  message: string;
}

export interface JobError {
  code: string | null;
  message: string;
}

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details?: { cached_tokens?: number; [k: string]: unknown };
  output_tokens: number;
  output_tokens_details?: { reasoning_tokens?: number; [k: string]: unknown };
  total_tokens: number;
  [k: string]: unknown;
}

export interface WebhookTarget {
  url: string;
  /** Terminal event types to send; all of them when absent. */
  events?: string[];
}

/**
 * Where the final webhook stands. `sending` is a claimed attempt (a crash leaves it to be retried
 * after `nextAttemptAt`); `exhausted`: every scheduled attempt failed; `gone`: the receiver said 410;
 * `disabled`: the endpoint had failed for days and the breaker turned it off (a redeliver re-enables it).
 */
export type DeliveryState = "pending" | "sending" | "delivered" | "exhausted" | "gone" | "disabled";

export interface Delivery {
  /** Stable across every retry and redelivery: the receiver's idempotency key. */
  webhookId: string;
  eventType: string;
  state: DeliveryState;
  attempts: number;
  /** Attempts made before the current round (a manual redelivery starts a new round). */
  roundStart: number;
  nextAttemptAt: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: number | null;
}

export const isDeliveryActive = (delivery: Delivery | null): boolean =>
  delivery?.state === "pending" || delivery?.state === "sending";

/** Whether the poller still has something to do for this job. */
export function needsAttention(job: Pick<Job, "status" | "upstreamCancelPending" | "delivery">): boolean {
  return !isTerminal(job.status) || job.upstreamCancelPending || isDeliveryActive(job.delivery);
}

/** A job submitted with `relay.max_cost_usd`: the cap and what the relay made of it (budget.ts). */
export interface JobBudget {
  maxCostUsd: number;
  /** Counted by the upstream before the create. */
  inputTokens: number;
  /** What the upstream was sent as `max_output_tokens`, so the worst case fits the cap. */
  maxOutputTokens: number;
  worstCaseUsd: number;
}

export interface StoredBlobRef {
  /** Number of chunk items. */
  chunks: number;
  /** Uncompressed size in bytes. */
  bytes: number;
  sha256: string;
}

export interface Job {
  id: string;
  tenantId: string;
  status: JobStatus;
  /** Bumped by every write; every write is conditional on the version it read. */
  version: number;
  model: string;
  /** The caller's own metadata (without the relay's tag). */
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  /** When `status` last changed: drives the adaptive poll interval without extra writes. */
  statusChangedAt: number;
  completedAt: number | null;
  deadlineAt: number;
  /** A job still queued upstream after this is re-checked and cancelled (`queued_too_long`). */
  queuedDeadlineAt: number;
  createState: CreateState;
  createAttempts: number;
  /** When the current create was sent (for recovering from a crash mid-create). */
  createSentAt: number | null;
  upstreamId: string | null;
  /**
   * The configured upstream the job went to (null: stored before upstreams were configurable,
   * i.e. the primary one). Its upstream id carries the same name, so every call finds it again.
   */
  upstream: string | null;
  /** Runs the relay's own worker started for the job (upstreams without background mode). */
  workerRuns: number;
  /** The caller's `include` (extra output fields), asked for again on every upstream read. */
  include: string[] | null;
  /** The upstream id of the job the caller's `previous_response_id` named (sent in its place). */
  previousUpstreamId: string | null;
  /** The upstream's last seen status (differs from `status` when the relay ended the job itself). */
  upstreamStatus: string | null;
  /** The upstream still has to be told to cancel (a cancel that failed transiently). */
  upstreamCancelPending: boolean;
  webhook: WebhookTarget | null;
  /** The final webhook, once the job has ended (null: no webhook, or its event not subscribed). */
  delivery: Delivery | null;
  idempotencyKey: string | null;
  request: StoredBlobRef;
  output: StoredBlobRef | null;
  usage: ResponseUsage | null;
  costUsd: number | null;
  error: JobError | null;
  /** Set when the relay, not the upstream, decided how the job ended. */
  endReason: EndReason | null;
  incompleteDetails: { reason: string } | null;
  /** The last transient upstream problem, for the status object; cleared on progress. */
  lastUpstreamError: string | null;
  /**
   * How the relay learns of the running job's end, as of its last write (see `Watch`).
   */
  watch: Watch | null;
  /** The caller's cost cap, when it set one. */
  budget: JobBudget | null;
}

/** The fields every job starts with empty; also what a stored item lacks when a field is null. */
export const EMPTY_JOB_FIELDS = {
  metadata: {},
  completedAt: null,
  createAttempts: 0,
  createSentAt: null,
  upstreamId: null,
  upstream: null,
  workerRuns: 0,
  previousUpstreamId: null,
  include: null,
  upstreamStatus: null,
  upstreamCancelPending: false,
  webhook: null,
  delivery: null,
  idempotencyKey: null,
  output: null,
  usage: null,
  costUsd: null,
  error: null,
  endReason: null,
  incompleteDetails: null,
  lastUpstreamError: null,
  watch: null,
  budget: null,
} satisfies Partial<Job>;
