/**
 * Every row of the job lifecycle table (shared/domain/lifecycle.ts), without I/O: which phases
 * each event is allowed in, what it writes, and where it leaves the job in the due index.
 */
import { describe, expect, it } from "vitest";
import { EMPTY_JOB_FIELDS, type Job, type JobStatus } from "#shared/domain/job.ts";
import {
  allows,
  decide,
  type JobEvent,
  type JobEventType,
  LIFECYCLE,
  type Phase,
  phaseOf,
} from "#shared/domain/lifecycle.ts";
import { IllegalTransitionError, VersionConflictError } from "#shared/errors.ts";

const NOW = 1_800_000_000_000;

function job(overrides: Partial<Job> = {}): Job {
  return {
    ...EMPTY_JOB_FIELDS,
    id: "resp_0000000000001234567890abcdef1234567890ab",
    tenantId: "t1",
    status: "queued",
    version: 3,
    model: "gpt-5-pro",
    createdAt: NOW - 60_000,
    updatedAt: NOW - 60_000,
    statusChangedAt: NOW - 60_000,
    deadlineAt: NOW + 3_600_000,
    queuedDeadlineAt: NOW + 600_000,
    createState: "done",
    upstreamId: "resp_up",
    request: { chunks: 1, bytes: 10, sha256: "x" },
    ...overrides,
  };
}

/** One job in each phase. */
const IN: Record<Phase, Job> = {
  submitting: job({ createState: "pending", upstreamId: null }),
  creating: job({ createState: "sent", createSentAt: NOW - 1000, upstreamId: null, createAttempts: 1 }),
  confirming: job({ createState: "unconfirmed", createSentAt: NOW - 1000, upstreamId: null, createAttempts: 1 }),
  running: job({ status: "in_progress" }),
  ended: job({ status: "completed", completedAt: NOW - 1000 }),
};

/** A representative event of each type. */
const EVENTS: { [T in JobEventType]: Extract<JobEvent, { type: T }> } = {
  create_sent: { type: "create_sent", graceMs: 60_000 },
  create_accepted: {
    type: "create_accepted",
    upstreamId: "resp_new",
    status: "queued",
    upstreamStatus: "queued",
    nextPollAt: NOW + 1000,
  },
  create_deferred: { type: "create_deferred", retryAt: NOW + 2000, error: "429" },
  create_unknown: { type: "create_unknown", error: "timed out", confirmUntil: NOW + 7_200_000 },
  upstream_found: {
    type: "upstream_found",
    upstreamId: "resp_found",
    status: "in_progress",
    upstreamStatus: "in_progress",
    nextPollAt: NOW + 1000,
  },
  progress: { type: "progress", status: "in_progress", upstreamStatus: "in_progress", nextPollAt: NOW + 5000 },
  trouble: { type: "trouble", error: "503", retryAt: NOW + 4000 },
  run_started: { type: "run_started", nextCheckAt: NOW + 30_000 },
  end: { type: "end", status: "cancelled" },
  late_upstream: { type: "late_upstream", upstreamId: "resp_late", owesUpstreamCancel: true },
  cancel_settled: { type: "cancel_settled" },
  delivery: {
    type: "delivery",
    delivery: {
      webhookId: "msg_1",
      eventType: "response.completed",
      state: "sending",
      attempts: 1,
      roundStart: 0,
      nextAttemptAt: NOW + 75_000,
      lastStatus: null,
      lastError: null,
      deliveredAt: null,
    },
    dueAt: NOW + 75_000,
  },
};

/** Where each event may happen, as the table is meant to say it (the test's own copy of the rules). */
const LEGAL: Record<JobEventType, Phase[]> = {
  create_sent: ["submitting"],
  create_accepted: ["creating", "confirming"],
  create_deferred: ["creating"],
  create_unknown: ["creating"],
  upstream_found: ["submitting", "creating", "confirming"],
  progress: ["running"],
  trouble: ["running"],
  run_started: ["running"],
  end: ["submitting", "creating", "confirming", "running"],
  late_upstream: ["ended"],
  cancel_settled: ["ended"],
  delivery: ["ended"],
};

const PHASES = Object.keys(IN) as Phase[];

describe("the job lifecycle table", () => {
  it("has a row for every event and names every phase", () => {
    expect(Object.keys(LIFECYCLE).sort()).toEqual(Object.keys(LEGAL).sort());
    for (const phase of PHASES) expect(phaseOf(IN[phase])).toBe(phase);
  });

  describe.each(Object.keys(LEGAL) as JobEventType[])("%s", (type) => {
    it.each(PHASES)(`from %s`, (phase) => {
      // The bookkeeping events need the state they settle (in every phase, so only the phase differs).
      const needs: Partial<Record<JobEventType, Partial<Job>>> = {
        late_upstream: { upstreamId: null },
        cancel_settled: { upstreamCancelPending: true },
        delivery: { webhook: { url: "https://example.com/hook" } },
      };
      const subject = { ...IN[phase], ...needs[type] };
      const event = EVENTS[type];
      if (LEGAL[type].includes(phase)) {
        expect(allows(subject, event)).toBe(true);
        expect(() => decide(subject, event, NOW)).not.toThrow();
      } else {
        expect(allows(subject, event)).toBe(false);
        const attempt = () => decide(subject, event, NOW);
        expect(attempt).toThrow(IllegalTransitionError);
        // Callers treat it as a lost race: re-read and let the winner be.
        expect(attempt).toThrow(VersionConflictError);
      }
    });
  });
});

describe("what each move writes", () => {
  it("create_sent counts the attempt, stamps it, and is due again after the grace", () => {
    const d = decide(IN.submitting, EVENTS.create_sent, NOW);
    expect(d).toMatchObject({
      to: "creating",
      changes: { createState: "sent", createSentAt: NOW, createAttempts: 1 },
      dueAt: NOW + 60_000,
    });
  });

  it("create_accepted records the upstream id and polls soon; a status change is stamped", () => {
    const d = decide(
      IN.creating,
      { ...EVENTS.create_accepted, status: "in_progress", upstreamStatus: "in_progress" },
      NOW,
    );
    expect(d.to).toBe("running");
    expect(d.changes).toMatchObject({
      upstreamId: "resp_new",
      createState: "done",
      createSentAt: null,
      status: "in_progress",
      statusChangedAt: NOW,
      lastUpstreamError: null,
    });
    expect(d.dueAt).toBe(NOW + 1000);
    const same = decide(IN.creating, EVENTS.create_accepted, NOW);
    expect(same.changes.statusChangedAt).toBeUndefined();
  });

  it("create_deferred makes the create safe to send again at the retry time", () => {
    expect(decide(IN.creating, EVENTS.create_deferred, NOW)).toMatchObject({
      to: "submitting",
      changes: { createState: "pending", createSentAt: null, lastUpstreamError: "429" },
      dueAt: NOW + 2000,
    });
  });

  it("create_unknown never makes the create sendable again: it waits to confirm, due when the window closes", () => {
    const d = decide(IN.creating, EVENTS.create_unknown, NOW);
    expect(d).toMatchObject({ to: "confirming", changes: { createState: "unconfirmed" }, dueAt: NOW + 7_200_000 });
    expect(allows({ ...IN.creating, ...d.changes } as Job, EVENTS.create_sent)).toBe(false);
  });

  it("upstream_found re-attaches a confirming job as running", () => {
    const d = decide(IN.confirming, EVENTS.upstream_found, NOW);
    expect(d).toMatchObject({
      to: "running",
      changes: { upstreamId: "resp_found", createState: "done", status: "in_progress" },
    });
  });

  it("progress refuses to go backwards and hands terminal statuses to `end`", () => {
    expect(allows(IN.running, { ...EVENTS.progress, status: "queued" })).toBe(false);
    expect(allows(IN.running, { ...EVENTS.progress, status: "completed" as JobStatus })).toBe(false);
    expect(decide(IN.running, EVENTS.progress, NOW).dueAt).toBe(NOW + 5000);
  });

  it("run_started counts the worker's run and puts the job in progress", () => {
    const queued = { ...IN.running, status: "queued" as const, workerRuns: 1 };
    expect(decide(queued, EVENTS.run_started, NOW)).toMatchObject({
      to: "running",
      changes: { workerRuns: 2, status: "in_progress", statusChangedAt: NOW, lastUpstreamError: null },
      dueAt: NOW + 30_000,
    });
  });

  it("trouble without a retry time leaves the due index as it is", () => {
    expect(decide(IN.running, { type: "trouble", error: "slow", retryAt: undefined }, NOW).dueAt).toBeUndefined();
  });

  it("end schedules the webhook in the same write when the caller asked for that event", () => {
    const hooked = { ...IN.running, webhook: { url: "https://example.com/hook" } };
    const d = decide(hooked, { type: "end", status: "completed" }, NOW);
    expect(d.to).toBe("ended");
    expect(d.effects).toEqual(["deliver_webhook"]);
    expect(d.dueAt).toBe(NOW);
    expect(d.changes.delivery).toMatchObject({ eventType: "response.completed", state: "pending", attempts: 0 });
    expect(d.changes.delivery?.webhookId).toBe(`msg_${hooked.id.slice(5)}`);

    const notSubscribed = { ...hooked, webhook: { url: "https://example.com/hook", events: ["response.failed"] } };
    const quiet = decide(notSubscribed, { type: "end", status: "completed" }, NOW);
    expect(quiet).toMatchObject({ dueAt: null, effects: [], changes: { delivery: null } });
  });

  it("end with an owed upstream cancel stays due for it; without, the job leaves the index", () => {
    const owed = decide(
      IN.running,
      { type: "end", status: "cancelled", owesUpstreamCancel: true, lastUpstreamError: "503" },
      NOW,
    );
    expect(owed.changes).toMatchObject({ upstreamCancelPending: true, lastUpstreamError: "503" });
    expect(owed.dueAt).toBeGreaterThan(NOW);
    expect(decide(IN.running, { type: "end", status: "failed" }, NOW).dueAt).toBeNull();
  });

  it("end refuses a non-terminal status, and a second end", () => {
    expect(allows(IN.running, { type: "end", status: "in_progress" })).toBe(false);
    expect(allows(IN.ended, { type: "end", status: "cancelled" })).toBe(false);
  });

  it("late_upstream records the response of an ended job and stays due while its cancel is owed", () => {
    const ended = { ...IN.ended, status: "cancelled" as const, upstreamId: null, createState: "unconfirmed" as const };
    const d = decide(ended, EVENTS.late_upstream, NOW);
    expect(d).toMatchObject({
      to: "ended",
      changes: { upstreamId: "resp_late", createState: "done", upstreamCancelPending: true },
      dueAt: NOW,
    });
    const settled = decide(ended, { ...EVENTS.late_upstream, owesUpstreamCancel: false }, NOW);
    expect(settled.dueAt).toBeNull();
    // A job that already has its response never takes a second one.
    expect(allows(IN.ended, EVENTS.late_upstream)).toBe(false);
  });

  it("cancel_settled clears the owed cancel; the job stays due only for its webhook", () => {
    const owing = { ...IN.ended, upstreamCancelPending: true };
    expect(decide(owing, EVENTS.cancel_settled, NOW)).toMatchObject({
      changes: { upstreamCancelPending: false },
      dueAt: null,
    });
    expect(allows(IN.ended, EVENTS.cancel_settled)).toBe(false);
  });

  it("delivery keeps an owed cancel's sooner schedule in the index", () => {
    const owing = { ...IN.ended, webhook: { url: "https://example.com/hook" }, upstreamCancelPending: true };
    const d = decide(owing, EVENTS.delivery, NOW);
    expect(d.dueAt).toBeLessThan(NOW + 75_000);
    const plain = decide({ ...owing, upstreamCancelPending: false }, EVENTS.delivery, NOW);
    expect(plain.dueAt).toBe(NOW + 75_000);
  });
});
