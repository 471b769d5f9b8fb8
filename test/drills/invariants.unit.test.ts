/**
 * The drills are only as good as their checks: each check must flag the failure it exists for
 * (a lost job, a doubled create, a terminal state that changes, a dropped or re-identified webhook).
 */
import { describe, expect, it } from "vitest";
import type { Job } from "#shared/domain/job.ts";
import type { Simulator } from "#local/simulator/index.ts";
import type { Received } from "#test/support/receiver.ts";
import {
  checkAllTerminal,
  checkStatusHistory,
  checkUpstreamCreates,
  checkWebhooks,
  type StatusRead,
} from "./invariants.ts";

const job = (id: string, status: Job["status"], extra: Partial<Job> = {}): Job =>
  ({ id, status, upstreamId: `up_${id}`, error: null, ...extra }) as Job;
const read = (id: string, status: string, sentAt: number, at = sentAt + 1): StatusRead => ({ id, status, sentAt, at });
const sim = (tags: Record<string, string>): Simulator =>
  ({
    stats: () => ({ createdIds: Object.keys(tags) }),
    getResponse: (id: string) => (id in tags ? { metadata: { relay_job_id: tags[id] } } : undefined),
  }) as unknown as Simulator;
const hook = (jobId: string, webhookId: string, status: string, extra: Partial<Received> = {}): Received => ({
  headers: { "webhook-id": webhookId },
  body: JSON.stringify({ type: `response.${status}`, data: { id: jobId, status } }),
  verified: true,
  status: 200,
  at: 0,
  ...extra,
});

describe("status history", () => {
  it("accepts forward moves and overlapping reads in any order", () => {
    expect(
      checkStatusHistory([
        read("a", "queued", 1),
        read("a", "in_progress", 3),
        read("a", "completed", 5),
        read("a", "completed", 9),
      ]),
    ).toEqual([]);
    // Two overlapping reads: the older state may come back last.
    expect(checkStatusHistory([read("a", "completed", 1, 4), read("a", "in_progress", 2, 6)])).toEqual([]);
  });
  it("flags a terminal state that changes, and a state that goes back", () => {
    expect(checkStatusHistory([read("a", "completed", 1), read("a", "failed", 5)])).toEqual([
      "a: read as completed and failed",
    ]);
    expect(checkStatusHistory([read("a", "in_progress", 1), read("a", "queued", 5)])).toEqual([
      "a: read in_progress, then later queued",
    ]);
    expect(checkStatusHistory([read("a", "cancelled", 1, 9), read("a", "completed", 2, 8)])).toEqual([
      "a: read as cancelled and completed",
    ]);
  });
});

describe("terminal states", () => {
  it("flags a job still running, and an API read that disagrees with the table", () => {
    expect(checkAllTerminal([job("a", "completed")], new Map([["a", "completed"]]))).toEqual([]);
    expect(checkAllTerminal([job("a", "in_progress")], new Map())).toEqual(["a: still in_progress"]);
    expect(checkAllTerminal([job("a", "completed")], new Map([["a", "failed"]]))).toHaveLength(1);
  });
});

describe("upstream creates", () => {
  it("flags a job created upstream twice, a response for a job that does not exist, and a wrong recorded id", () => {
    expect(checkUpstreamCreates(sim({ up_a: "a" }), [job("a", "completed")]).violations).toEqual([]);
    expect(checkUpstreamCreates(sim({ up_a: "a", up_a2: "a" }), [job("a", "completed")]).violations).toContain(
      "a: created upstream 2 times (up_a, up_a2)",
    );
    expect(checkUpstreamCreates(sim({ up_a: "a", up_x: "lost" }), [job("a", "completed")]).violations).toEqual([
      "upstream up_x belongs to lost, which is not in the table",
    ]);
    expect(
      checkUpstreamCreates(sim({ up_a: "b", up_b: "a" }), [job("a", "completed"), job("b", "completed")]).violations,
    ).toHaveLength(2);
  });
  it("allows an unrecorded create only for a job that ended interrupted (or was cancelled)", () => {
    const interrupted = job("a", "failed", {
      upstreamId: null,
      error: { code: "server_error", message: "" },
      endReason: { code: "upstream_create_interrupted", message: "" },
    });
    expect(checkUpstreamCreates(sim({ up_a: "a" }), [interrupted])).toEqual({ violations: [], unrecorded: ["up_a"] });
    expect(
      checkUpstreamCreates(sim({ up_a: "a" }), [job("a", "failed", { upstreamId: null })]).violations,
    ).toHaveLength(1);
    expect(checkUpstreamCreates(sim({}), [job("a", "completed", { upstreamId: null })]).violations).toEqual([
      "a: completed without an upstream id",
    ]);
  });
});

describe("webhooks", () => {
  const jobs = [job("a", "completed"), job("b", "failed")];
  it("accepts one delivery per job, and repeats with the same webhook-id", () => {
    expect(
      checkWebhooks(
        [hook("a", "msg_a", "completed"), hook("b", "msg_b", "failed"), hook("a", "msg_a", "completed")],
        jobs,
      ),
    ).toEqual([]);
  });
  it("flags a dropped webhook, a changed or shared webhook-id, a wrong event, a bad signature", () => {
    expect(checkWebhooks([hook("a", "msg_a", "completed")], jobs)).toEqual([
      "b (failed): webhook never delivered (0 attempts seen)",
    ]);
    expect(
      checkWebhooks([hook("a", "msg_a", "completed"), hook("b", "msg_b", "failed", { status: 503 })], jobs),
    ).toEqual(["b (failed): webhook never delivered (1 attempts seen)"]);
    expect(
      checkWebhooks(
        [hook("a", "msg_a", "completed"), hook("a", "msg_a2", "completed"), hook("b", "msg_b", "failed")],
        jobs,
      ),
    ).toHaveLength(1);
    expect(checkWebhooks([hook("a", "msg_1", "completed"), hook("b", "msg_1", "failed")], jobs)).toEqual([
      "webhook-id msg_1 used by a and b",
    ]);
    expect(checkWebhooks([hook("a", "msg_a", "failed"), hook("b", "msg_b", "failed")], jobs)).toHaveLength(1);
    expect(
      checkWebhooks([hook("a", "msg_a", "completed", { verified: false }), hook("b", "msg_b", "failed")], jobs),
    ).toHaveLength(2);
  });
});
