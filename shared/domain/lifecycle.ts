/**
 * The job's lifecycle, written down once: its phases, the events that move it, the guard each
 * event has, and what each one writes. Pure: `decide` turns (job, event, now) into the changes
 * and the next due time of one conditional write; the use cases (shared/use-cases/job-transitions.ts)
 * do the I/O around it and write what it returns. docs/architecture.md#the-job-lifecycle draws it.
 *
 *   submitting ──create_sent──▶ creating ──create_accepted──▶ running ──end──▶ ended
 *        ▲                        │    │                          ▲
 *        └────create_deferred─────┘    └──create_unknown──▶ confirming ──upstream_found──┘
 *
 * `running` also takes `progress`, `trouble` and `run_started` (the relay's own worker, for
 * upstreams without background mode), each staying `running`.
 *
 * `end` is legal from every phase but `ended`; `ended` only takes the bookkeeping events
 * (`late_upstream`, `cancel_settled`, `delivery`). A job's `status` is one of OpenAI's six
 * throughout; the phase adds where the upstream create stands (`createState`).
 */
import { IllegalTransitionError } from "#shared/errors.ts";
import {
  canTransition,
  type Delivery,
  type EndReason,
  type Job,
  type JobError,
  type JobStatus,
  type ResponseUsage,
  type StoredBlobRef,
  type Watch,
  isDeliveryActive,
  isTerminal,
} from "./job.ts";
import { retryDelayMs } from "./polling.ts";

/**
 * `submitting`: no create in flight (never sent, or a refused-for-now one to send again).
 * `creating`: a create is in flight, or was when a process died.
 * `confirming`: a create may have reached the upstream and its answer was lost; the relay waits
 * to find the response (docs/decisions/0003-ambiguous-creates.md) and never sends a second one.
 * `running`: the upstream id is known. `ended`: one of the four terminal statuses.
 */
export type Phase = "submitting" | "creating" | "confirming" | "running" | "ended";

export function phaseOf(job: Pick<Job, "status" | "createState">): Phase {
  if (isTerminal(job.status)) return "ended";
  switch (job.createState) {
    case "pending":
      return "submitting";
    case "sent":
      return "creating";
    case "unconfirmed":
      return "confirming";
    case "done":
      return "running";
  }
}

/** What the upstream said about the response, as far as the lifecycle cares. */
interface UpstreamSight {
  /** The upstream's own status string; `status` is it when it is one of the six. */
  upstreamStatus: string;
  status: JobStatus;
  /** When to look next while it runs. */
  nextPollAt: number;
  /** How the relay watches it from now on (absent: as before). */
  watch?: Watch;
}

/** How a job ends: the status, and the final record (from the upstream's Response or the relay's reason). */
export interface Ending {
  status: JobStatus;
  upstreamId?: string;
  upstreamStatus?: string;
  output?: StoredBlobRef;
  usage?: ResponseUsage | null;
  costUsd?: number | null;
  completedAt?: number;
  error?: JobError | null;
  endReason?: EndReason | null;
  incompleteDetails?: { reason: string } | null;
  /** The upstream still has to be told to stop (a cancel that failed transiently). */
  owesUpstreamCancel?: boolean;
  lastUpstreamError?: string | null;
}

export type JobEvent =
  | { type: "create_sent"; graceMs: number }
  | ({ type: "create_accepted"; upstreamId: string } & UpstreamSight)
  | { type: "create_deferred"; retryAt: number; error: string }
  | { type: "create_unknown"; error: string; confirmUntil: number }
  | ({ type: "upstream_found"; upstreamId: string } & UpstreamSight)
  | ({ type: "progress" } & UpstreamSight)
  | { type: "trouble"; error: string; retryAt: number | undefined }
  | { type: "run_started"; nextCheckAt: number }
  | ({ type: "end" } & Ending)
  | { type: "late_upstream"; upstreamId: string; owesUpstreamCancel: boolean }
  | { type: "cancel_settled" }
  | { type: "delivery"; delivery: Delivery; dueAt: number | null };

export type JobEventType = JobEvent["type"];

/** Work the write implies for whoever made it, beyond the write itself. */
type Effect = "deliver_webhook";

export interface Decision {
  /** The phase after the write. */
  to: Phase;
  changes: Partial<Job>;
  /** The due index: a time, out of it (null), or as it is (undefined). */
  dueAt: number | null | undefined;
  effects: Effect[];
}

interface Rule<E extends JobEvent> {
  from: readonly Phase[];
  /** A further condition beyond the phase; a string says why it fails. */
  guard?: (job: Job, event: E) => string | null;
  apply: (job: Job, event: E, now: number) => Decision;
}

type Rules = { [T in JobEventType]: Rule<Extract<JobEvent, { type: T }>> };

const ACTIVE: readonly Phase[] = ["submitting", "creating", "confirming", "running"];

/** The whole table. Adding a move means adding a row here and its unit test (test/unit/lifecycle.test.ts). */
export const LIFECYCLE: Rules = {
  create_sent: {
    from: ["submitting"],
    apply: (job, event, now) => ({
      to: "creating",
      changes: { createState: "sent", createSentAt: now, createAttempts: job.createAttempts + 1 },
      // If this process dies with the create in flight, the poller looks again after the grace.
      dueAt: now + event.graceMs,
      effects: [],
    }),
  },
  create_accepted: {
    from: ["creating", "confirming"],
    guard: sightGuard,
    apply: (job, event, now) =>
      seen(job, event, now, { upstreamId: event.upstreamId, createState: "done", createSentAt: null }),
  },
  create_deferred: {
    from: ["creating"],
    apply: (_job, event) => ({
      to: "submitting",
      changes: { createState: "pending", createSentAt: null, lastUpstreamError: event.error },
      dueAt: event.retryAt,
      effects: [],
    }),
  },
  create_unknown: {
    from: ["creating"],
    apply: (_job, event) => ({
      to: "confirming",
      changes: { createState: "unconfirmed", lastUpstreamError: event.error },
      dueAt: event.confirmUntil,
      effects: [],
    }),
  },
  upstream_found: {
    // A create whose answer was lost (or was refused for now, yet reached the upstream) turns up.
    from: ["submitting", "creating", "confirming"],
    guard: sightGuard,
    apply: (job, event, now) =>
      seen(job, event, now, { upstreamId: event.upstreamId, createState: "done", createSentAt: null }),
  },
  progress: {
    from: ["running"],
    guard: sightGuard,
    apply: (job, event, now) => seen(job, event, now, {}),
  },
  trouble: {
    // A transient upstream fault while polling (or while the relay's own worker holds the
    // request): noted once per run of trouble, for the status. No retry time: the index stays.
    from: ["running"],
    apply: (_job, event) => ({
      to: "running",
      changes: { lastUpstreamError: event.error },
      dueAt: event.retryAt,
      effects: [],
    }),
  },
  run_started: {
    // The relay's own worker began a run of a job whose upstream has no background mode
    // (docs/decisions/0008-emulated-background.md): counted, and the job is in progress.
    from: ["running"],
    apply: (job, event, now) => ({
      to: "running",
      changes: {
        workerRuns: job.workerRuns + 1,
        status: "in_progress",
        upstreamStatus: "in_progress",
        lastUpstreamError: null,
        ...(job.status !== "in_progress" ? { statusChangedAt: now } : {}),
      },
      dueAt: event.nextCheckAt,
      effects: [],
    }),
  },
  end: {
    from: ACTIVE,
    guard: (job, event) =>
      canTransition(job.status, event.status) && isTerminal(event.status)
        ? null
        : `cannot end ${job.status} as ${event.status}`,
    apply: (job, event, now) => {
      const owes = event.owesUpstreamCancel ?? false;
      const delivery = firstDelivery(job, event.status);
      const changes: Partial<Job> = {
        status: event.status,
        statusChangedAt: now,
        completedAt: event.completedAt ?? now,
        lastUpstreamError: event.lastUpstreamError ?? null,
        upstreamCancelPending: owes,
        delivery,
      };
      if (event.upstreamId !== undefined)
        Object.assign(changes, { upstreamId: event.upstreamId, createState: "done", createSentAt: null });
      for (const key of [
        "upstreamStatus",
        "output",
        "usage",
        "costUsd",
        "error",
        "endReason",
        "incompleteDetails",
      ] as const)
        if (event[key] !== undefined) Object.assign(changes, { [key]: event[key] });
      return {
        to: "ended",
        changes,
        // Out of the due index unless a webhook or an upstream cancel is still owed.
        dueAt: delivery ? now : owes ? now + retryDelayMs(1, null) : null,
        effects: delivery ? ["deliver_webhook"] : [],
      };
    },
  },
  late_upstream: {
    // The upstream response of a job that ended before its create was recorded.
    from: ["ended"],
    guard: (job) => (job.upstreamId === null ? null : "the job already has an upstream response"),
    apply: (job, event, now) => ({
      to: "ended",
      changes: {
        upstreamId: event.upstreamId,
        createState: "done",
        createSentAt: null,
        upstreamCancelPending: event.owesUpstreamCancel,
      },
      dueAt: event.owesUpstreamCancel || isDeliveryActive(job.delivery) ? now : null,
      effects: [],
    }),
  },
  cancel_settled: {
    from: ["ended"],
    guard: (job) => (job.upstreamCancelPending ? null : "no upstream cancel is owed"),
    apply: (job, _event, now) => ({
      to: "ended",
      changes: { upstreamCancelPending: false, lastUpstreamError: null },
      dueAt: isDeliveryActive(job.delivery) ? now : null,
      effects: [],
    }),
  },
  delivery: {
    from: ["ended"],
    guard: (job) => (job.webhook ? null : "the job has no webhook"),
    apply: (job, event, now) => {
      // An owed upstream cancel keeps its own, shorter schedule in the index.
      const cancelDue = job.upstreamCancelPending ? now + retryDelayMs(1, null) : null;
      const times = [event.dueAt, cancelDue].filter((t): t is number => t !== null);
      return {
        to: "ended",
        changes: { delivery: event.delivery },
        dueAt: times.length ? Math.min(...times) : null,
        effects: [],
      };
    },
  },
};

/**
 * The one write `event` makes of `job` at `now`.
 * @throws IllegalTransitionError when the job's phase (or the event's guard) does not allow it:
 * the job moved on since it was read, so the caller re-reads it.
 */
export function decide(job: Job, event: JobEvent, now: number): Decision {
  const rule = LIFECYCLE[event.type] as Rule<JobEvent>;
  const phase = phaseOf(job);
  if (!rule.from.includes(phase))
    throw new IllegalTransitionError(`job ${job.id}: ${event.type} is not allowed while ${phase}`);
  const refused = rule.guard?.(job, event);
  if (refused) throw new IllegalTransitionError(`job ${job.id}: ${event.type} refused (${refused})`);
  return rule.apply(job, event, now);
}

/** Whether `event` may happen to `job` now (the same test `decide` makes). */
export function allows(job: Job, event: JobEvent): boolean {
  const rule = LIFECYCLE[event.type] as Rule<JobEvent>;
  return rule.from.includes(phaseOf(job)) && !rule.guard?.(job, event);
}

function sightGuard(job: Job, event: UpstreamSight): string | null {
  if (isTerminal(event.status)) return "a terminal status is an `end`";
  return job.status === event.status || canTransition(job.status, event.status)
    ? null
    : `cannot go from ${job.status} back to ${event.status}`;
}

/** A running sighting: a write only for what changed (status, a stale trouble note, extra fields). */
function seen(job: Job, event: UpstreamSight, now: number, extra: Partial<Job>): Decision {
  const changed = event.status !== job.status;
  return {
    to: "running",
    changes: {
      ...extra,
      status: event.status,
      upstreamStatus: event.upstreamStatus,
      lastUpstreamError: null,
      ...(changed ? { statusChangedAt: now } : {}),
      ...(event.watch ? { watch: event.watch } : {}),
    },
    dueAt: event.nextPollAt,
    effects: [],
  };
}

/** The caller's webhook for this end state, or null when there is none or it is not subscribed. */
function firstDelivery(job: Job, status: JobStatus): Delivery | null {
  const eventType = `response.${status}`;
  if (!job.webhook || (job.webhook.events && !job.webhook.events.includes(eventType))) return null;
  return {
    // One id per job's final event: every retry and redelivery carries the same one.
    webhookId: `msg_${job.id.slice("resp_".length)}`,
    eventType,
    state: "pending",
    attempts: 0,
    roundStart: 0,
    nextAttemptAt: null,
    lastStatus: null,
    lastError: null,
    deliveredAt: null,
  };
}
