/**
 * The seams between use cases and the outside world. Adapters live in shared/store and
 * shared/upstream; tests pass real local ones (DynamoDB Local, the simulator).
 */
import type { EndpointHealth } from "#shared/domain/endpoint-health.ts";
import type { Job, StoredBlobRef } from "#shared/domain/job.ts";
import type { ModelCatalog } from "#shared/domain/models.ts";
import type { SlotKind, TenantLimits } from "#shared/domain/tenant-limits.ts";
import type { Clock } from "./clock.ts";
import type { Metrics } from "./metrics.ts";

export interface IdempotencyClaim {
  tenantId: string;
  key: string;
  bodyHash: string;
  expiresAt: number;
}

/** How the upstream refused a create outright: what the caller was answered, to repeat on a replay. */
export interface Refusal {
  status: number;
  type: string;
  message: string;
  code: string | null;
  param: string | null;
  /** The upstream refused the relay's own credentials (the answer is the relay's, not the upstream's). */
  auth: boolean;
}

export type CreateJobResult =
  | { created: true; job: Job }
  | { created: false; existingJobId: string; bodyHash: string; refusal: Refusal | null };

export interface JobListPage {
  jobs: Job[];
  hasMore: boolean;
}

export interface DueEntry {
  id: string;
  dueAt: number;
  version: number;
}

export interface JobView {
  job: Job;
  /** The caller's request, only its fields a Response shows. */
  request: Readonly<Record<string, unknown>>;
  /** The upstream's final Response, or null while there is none. */
  output: Readonly<Record<string, unknown>> | null;
}

export interface JobStore {
  /** Writes the job (intent) and, atomically, its idempotency claim; the request is stored first. */
  create(job: Job, request: Record<string, unknown>, dueAt: number, claim?: IdempotencyClaim): Promise<CreateJobResult>;
  /** Strongly consistent read. */
  get(id: string): Promise<Job | null>;
  getRequest(job: Job): Promise<Record<string, unknown>>;
  /**
   * Only the request's fields a Response shows (`shownRequest`, never its `input`), kept per
   * process as a status read keeps them: what a list page or a reply builds its Responses from,
   * without reading and decoding each full request. Shared with other readers: never change it.
   */
  getShownRequest(job: Job): Promise<Readonly<Record<string, unknown>>>;
  /** The final upstream Response, or null while there is none. */
  getOutput(job: Job): Promise<Record<string, unknown> | null>;
  /**
   * The tenant's job with what its Response object is made of, for a status read: the job item
   * read fresh (strongly consistent), the request's shown fields (`shownRequest`) and the final
   * Response, in one call where it can (docs/decisions/0013-status-read-path.md). Null for a
   * missing job and for another tenant's alike; nothing of another tenant's job is decoded or kept.
   * The request and output may be shared with other readers: never change them.
   */
  getForView(id: string, tenantId: string): Promise<JobView | null>;
  putOutput(jobId: string, response: Record<string, unknown>, nowMs?: number): Promise<StoredBlobRef>;
  /**
   * Conditional on `job.version`; bumps it. `dueAt`: a number puts the job in the due index at that
   * time, null takes it out, undefined leaves it as it is.
   * @throws VersionConflictError when someone else wrote first.
   */
  update(job: Job, changes: Partial<Job>, dueAt?: number | null): Promise<Job>;
  list(tenantId: string, options: { status?: string; limit: number; after?: string }): Promise<JobListPage>;
  queryDue(shard: number, fromMs: number, toMs: number): Promise<DueEntry[]>;
  findByUpstreamId(upstreamId: string): Promise<Job | null>;
  /**
   * Removes the job and everything stored beside it (request and output chunks, event log,
   * delivery log) and its idempotency claim. The job item goes first, so every reader sees the
   * job gone at once; a crash part-way leaves only leftovers that TTL removes.
   */
  delete(job: Job): Promise<void>;
  /** Keeps the Idempotency-Key's claim, with the refusal its create met, for replays to repeat. */
  recordRefusal(claim: IdempotencyClaim, jobId: string, refusal: Refusal): Promise<void>;
  /** Notes which job a submit without an Idempotency-Key made, for an SDK's automatic retry of it. */
  rememberSubmit(tenantId: string, bodyHash: string, jobId: string, expiresAt: number): Promise<void>;
  /** The job an identical earlier submit made (see rememberSubmit), or null. */
  recallSubmit(tenantId: string, bodyHash: string): Promise<string | null>;
  readonly shards: number;
}

export interface Tenant {
  id: string;
  name: string;
  /** Signing secrets, newest first; during a rotation webhooks carry a signature for each. */
  webhookSecrets: string[];
  createdAt: number;
  /** What differs from the defaults (shared/domain/tenant-limits.ts). */
  limits?: Partial<TenantLimits>;
}

export interface TenantStore {
  tenantForKeyHash(keyHash: string): Promise<Tenant | null>;
  getTenant(id: string): Promise<Tenant | null>;
  putTenant(tenant: Tenant): Promise<void>;
  putKey(keyHash: string, tenantId: string, label: string): Promise<void>;
  revokeKey(keyHash: string): Promise<boolean>;
}

/** One tenant's spend in one calendar month, as recorded when its jobs ended. */
export interface MonthSpend {
  month: string;
  /** Sum of the priced jobs' `costUsd`, in micro-dollars. */
  costMicros: number;
  /** Jobs that ended with a price. */
  pricedJobs: number;
  /** Jobs that ended with usage on a model without a price: flagged, never counted as $0. */
  unpricedJobs: number;
  /** Their tokens, so the missing cost can be worked out by hand. */
  unpricedInputTokens: number;
  unpricedOutputTokens: number;
}

export interface SlotGrant {
  granted: boolean;
  /** Slots in use (after this one, when granted). */
  inUse: number;
}

/**
 * Per-tenant counters shared by every instance (DynamoDB, conditional writes), for the limits in
 * shared/domain/tenant-limits.ts. Times are the relay clock's.
 */
export interface TenantQuotas {
  /**
   * Counts one request in the tenant's current minute: refused at `limit`, never more granted
   * across instances (which may count in batches: `remaining` is what this instance knows).
   */
  takeRequest(
    tenantId: string,
    limit: number,
    nowMs: number,
  ): Promise<{ granted: boolean; remaining: number; resetAtMs: number }>;
  /**
   * Takes slot `id` of `kind` until `untilMs` if fewer than `limit` are held (expired slots don't
   * count: a holder that died frees its slot by then). Taking a slot already held renews it.
   */
  acquireSlot(
    tenantId: string,
    kind: SlotKind,
    id: string,
    limit: number,
    nowMs: number,
    untilMs: number,
  ): Promise<SlotGrant>;
  /** Extends a held slot (a long stream keeps renewing it). */
  renewSlot(tenantId: string, kind: SlotKind, id: string, untilMs: number): Promise<void>;
  releaseSlot(tenantId: string, kind: SlotKind, id: string): Promise<void>;
  spend(tenantId: string, month: string): Promise<MonthSpend>;
}

export interface LeaseStore {
  /**
   * Takes or renews the lease on `name` until `untilMs` if it is free, expired or already ours.
   * `handover` is left on the lease for whoever takes it next (the poller's stream cursors).
   */
  acquire(name: string, owner: string, untilMs: number, nowMs: number, handover?: LeaseHandover): Promise<boolean>;
  release(name: string, owner: string): Promise<void>;
  /**
   * Until when the lease was last held, by anyone (null: never, or long expired). The poller
   * reads it when it takes a shard: jobs there were in someone's hands until then.
   */
  lastHeldUntil(name: string): Promise<number | null>;
  /** The same read, with what the last holder left for the next (empty when it left nothing). */
  lastHeld(name: string): Promise<{ until: number; handover: LeaseHandover } | null>;
}

/** Job id → the last upstream stream sequence number its watcher had seen. */
export type LeaseHandover = Readonly<Record<string, number>>;

/** A Response object as the upstream returns it. */
export type UpstreamResponse = Record<string, unknown> & { id: string; status: string };

/** What a create knows besides the body: the job it is for (an emulated upstream runs that job). */
export interface CreateContext {
  jobId: string;
}

export interface Upstream {
  /**
   * @throws UpstreamRejectedError (permanent) or UpstreamUnavailableError (transient).
   */
  create(body: Record<string, unknown>, context?: CreateContext): Promise<UpstreamResponse>;
  /** `include`: extra fields the caller asked for (OpenAI's `include` values). */
  retrieve(id: string, options?: { include?: readonly string[] }): Promise<UpstreamResponse>;
  cancel(id: string): Promise<UpstreamResponse>;
  /**
   * `GET /responses/{id}?stream=true[&starting_after=N]`. Opening throws like the calls above (a
   * refused resume, e.g. 400 "more than 5 minutes old", is an UpstreamRejectedError); the events
   * then arrive in order, and a connection that breaks mid-way throws UpstreamUnavailableError
   * from the iterator. The iterator just ends when the upstream closes the stream.
   */
  stream(id: string, options?: UpstreamStreamOptions): Promise<AsyncIterable<StreamEvent>>;
  /**
   * Whether this upstream's responses are created streaming, so `stream(id)` can follow one from
   * creation (for as long as the upstream lets a stream be resumed): the poller watches those.
   */
  canWatch(id: string): boolean;
  /** Deletes the upstream response; one the upstream no longer knows resolves too (gone either way). */
  delete(id: string): Promise<void>;
  /** `GET /responses/{id}/input_items`, the page as the upstream gives it. */
  listInputItems(id: string, query: InputItemQuery): Promise<InputItemPage>;
  /** `POST /responses/input_tokens`: the body is a create body (model, input, tools, …). */
  countInputTokens(body: Record<string, unknown>): Promise<InputTokenCount>;
}

export interface InputItemQuery {
  limit?: number;
  order?: "asc" | "desc";
  after?: string;
  include?: string[];
}

/** OpenAI's list shape for a response's input items. */
export interface InputItemPage {
  object: "list";
  data: Record<string, unknown>[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface InputTokenCount {
  object: "response.input_tokens";
  input_tokens: number;
}

/** One Responses API stream event: `type`, `sequence_number` and the type's own fields. */
export interface StreamEvent {
  type: string;
  sequence_number: number;
  [key: string]: unknown;
}

export interface UpstreamStreamOptions {
  /** Only events after this sequence number. */
  startingAfter?: number;
  signal?: AbortSignal;
}

/**
 * A run of consecutive events of one job's stream, as the relay stored them. Sequence numbers are
 * the relay's (contiguous from 0); `upstreamCursor` is the upstream's number of the last upstream
 * event consumed up to here, where a resume of the upstream stream continues.
 */
export interface EventBatch {
  first: number;
  events: StreamEvent[];
  /** null for events the relay wrote itself (the log then ends with this batch). */
  upstreamCursor: number | null;
  /** On the last batch: the stream is complete, and how the job ended. */
  end: { status: string } | null;
}

/**
 * The relay's own copy of each job's stream, the single source of truth every caller is served
 * from (replays stay identical for the job's whole retention, long after the upstream forgets).
 */
export interface EventLog {
  /** The batch holding the newest event, or null for an empty log. Strongly consistent. */
  last(jobId: string): Promise<EventBatch | null>;
  /**
   * Batches in order, starting with the one holding event `afterSeq + 1` (which may also hold
   * earlier events), up to a page; an empty list when there is nothing after `afterSeq`.
   */
  read(jobId: string, afterSeq: number): Promise<EventBatch[]>;
  /**
   * Stores `batch` unless a batch already starts at `batch.first` (another writer was first):
   * then false, and nothing is written. Every writer appends right after the newest batch it
   * knows, so two writers can never store different events under one sequence number.
   */
  append(jobId: string, batch: EventBatch): Promise<boolean>;
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface WebhookResult {
  /** HTTP status, or null when no answer came (refused address, timeout, connection error). */
  status: number | null;
  latencyMs: number;
  error: string | null;
  retryAfterMs: number | null;
}

/** Sends one webhook attempt: never follows redirects, never reaches a refused address. */
export interface WebhookSender {
  send(request: WebhookRequest): Promise<WebhookResult>;
  /** Why this URL may not receive webhooks (scheme, or an address that is not public), or null. */
  refusal(url: string): Promise<string | null>;
}

export interface DeliveryAttempt {
  attempt: number;
  webhookId: string;
  eventType: string;
  url: string;
  at: number;
  status: number | null;
  latencyMs: number;
  error: string | null;
  nextRetryAt: number | null;
  manual: boolean;
}

export interface DeliveryLog {
  record(jobId: string, attempt: DeliveryAttempt): Promise<void>;
  list(jobId: string): Promise<DeliveryAttempt[]>;
}

/**
 * Each webhook endpoint's circuit breaker (shared/domain/endpoint-health.ts), shared by every
 * poller and instance. Reads may be a few seconds stale (a cache); writes are atomic.
 */
export interface EndpointHealthStore {
  get(endpoint: string): Promise<EndpointHealth | null>;
  /** Counts a failed attempt and moves the state as the policy says; returns the new health. */
  recordFailure(endpoint: string, error: string | null, nowMs: number): Promise<EndpointHealth>;
  /** An answered attempt: the endpoint is healthy again (a no-op when it already was). */
  recordSuccess(endpoint: string): Promise<void>;
  /**
   * While failing: takes the next probe slot if it is free (true), pushing the one after to
   * `nextProbeAt`; false when another attempt has it.
   */
  claimProbe(endpoint: string, nowMs: number, nextProbeAt: number): Promise<boolean>;
  /** Forgets the endpoint's failures (a redelivery re-enables a disabled endpoint). */
  reset(endpoint: string): Promise<void>;
}

/** A job's status change, as published to the relay's event bus. */
export interface LifecycleEvent {
  /** `<job id>:<version>`: the same however often the outbox delivers it; consumers dedupe on it. */
  eventId: string;
  jobId: string;
  tenantId: string;
  status: string;
  previousStatus: string | null;
  upstreamId: string | null;
  model: string;
  at: number;
  costUsd: number | null;
  error: { code: string | null; message: string } | null;
  /** Why the relay itself ended the job (`relay.reason.code`), else null. */
  reason: string | null;
}

export interface EventPublisher {
  /** Best effort: a failure is logged by the adapter, never thrown into a transition. */
  publish(events: LifecycleEvent[]): Promise<void>;
}

/** Remembers ids already handled (OpenAI webhook deliveries) so a repeat is recognised. */
export interface Inbox {
  /** True the first time an id is claimed, false for a repeat. */
  claim(id: string, expiresAtSeconds: number): Promise<boolean>;
  /** Whether the id was claimed (handled) already. */
  seen(id: string): Promise<boolean>;
  /**
   * Notes that a verified OpenAI webhook arrived at `now`, for every process of the relay (written
   * at most once a minute per process: it is a signal, not a log).
   */
  heard(now: number): Promise<void>;
  /** When a verified OpenAI webhook last arrived (null: never), as seen at most 10 s ago. */
  lastHeard(now: number): Promise<number | null>;
}

/**
 * One streaming request to an upstream without background mode, held open for the whole run, as
 * Responses API stream events (a Chat Completions upstream's chunks are translated). Opening
 * throws like Upstream.create; a connection that breaks mid-way throws UpstreamUnavailableError
 * from the iterator; the iterator ends after the terminal event.
 */
export interface DirectUpstream {
  /** Why this request cannot be sent to this upstream (an unsupported field or item), or null. */
  refusal(body: Record<string, unknown>): string | null;
  open(
    body: Record<string, unknown>,
    options: { signal: AbortSignal; jobId: string },
  ): Promise<AsyncIterable<StreamEvent>>;
}

/** What to do with a job whose worker died mid-run: run it again from the start, or fail it. */
export type WorkerLostPolicy = "rerun" | "fail";

export interface EmulationSettings {
  /** The worker's lease on a job (clock ms); a worker that stops renewing it is taken for dead. */
  leaseMs: number;
  onWorkerLost: WorkerLostPolicy;
  /** Runs a job may start in all (the first included) before it fails as lost. */
  maxRuns: number;
}

/**
 * Background mode the relay provides itself, for upstreams that have none
 * (docs/decisions/0008-emulated-background.md): a worker holds the upstream request and writes
 * every event into the job's event log.
 */
export interface Emulation {
  /** The emulated upstreams by name. */
  direct: ReadonlyMap<string, DirectUpstream>;
  /** Starts a worker for the job (in this process locally, a worker function in AWS); never throws. */
  dispatch(jobId: string): Promise<void>;
  /** Stops this process's worker of the job at once, if it has one (a cancel, a delete). */
  interrupt(jobId: string): void;
  settings: EmulationSettings;
}

export interface Deps {
  jobs: JobStore;
  tenants: TenantStore;
  leases: LeaseStore;
  upstream: Upstream;
  eventLog: EventLog;
  webhooks: WebhookSender;
  deliveries: DeliveryLog;
  endpoints: EndpointHealthStore;
  quotas: TenantQuotas;
  events: EventPublisher;
  inbox: Inbox;
  metrics: Metrics;
  clock: Clock;
  settings: RelaySettings;
  /** Which upstream serves a model, at what price and deadline. */
  models: ModelCatalog;
  /** Set when some upstream has no background mode of its own. */
  emulation?: Emulation;
  /**
   * Sends the caller's webhook of a job that just ended, without waiting for the poller's next
   * tick (shared/use-cases/announce-end.ts). Resolves once the send is handed over, not sent.
   */
  deliverSoon: (job: Job) => Promise<void>;
}

export interface RelaySettings {
  /** Absolute base URL of the relay's public API (status and cancel URLs in webhooks). */
  publicBaseUrl: string;
  idempotencyTtlSeconds: number;
  /** A create that was sent but never recorded is looked for after this (crash recovery). */
  createGraceMs: number;
  /**
   * Whether verified OpenAI webhooks can reach this relay (their secret is set and valid), so a response whose create answer was lost can
   * still be found when it ends (by its `relay_job_id` tag): such jobs wait to be confirmed.
   */
  findsLostCreates: () => Promise<boolean>;
  /**
   * How long past its deadline such a job waits (OpenAI sends the webhook when the response ends,
   * which may be after the relay's deadline: nobody could cancel it there).
   */
  confirmSlackMs: number;
  /**
   * While a verified OpenAI webhook arrived within this (ms), polls of jobs those webhooks reach
   * are only a backstop, minutes apart (0: always poll on the usual schedule).
   */
  pushFreshMs: number;
}
