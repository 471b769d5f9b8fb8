/**
 * Jepsen-style checks over a recorded history (every operation and its result, from many clients
 * under injected faults; the check over the history is the evidence). Each
 * returns a list of violations, so a failing drill says exactly which job broke which rule.
 */
import { JOB_ID_METADATA_KEY, TERMINAL_STATUSES, type Job } from "#shared/domain/job.ts";
import type { JobStore } from "#shared/ports.ts";
import { webhookEventType } from "#shared/webhooks/event-payload.ts";
import type { Simulator } from "#local/simulator/index.ts";
import type { Received } from "#test/support/receiver.ts";

export const TERMINAL: ReadonlySet<string> = TERMINAL_STATUSES;
const rank = (status: string) =>
  status === "queued" ? 0 : status === "in_progress" ? 1 : TERMINAL.has(status) ? 2 : -1;

/** One observation of a job's status by a client (a GET, or the job a submit or cancel returned). */
export interface StatusRead {
  id: string;
  status: string;
  /** Wall ms when the request went out and when the answer came back: the read happened in between. */
  sentAt: number;
  at: number;
}

/** Every job the tenant has, straight from the table. */
export async function allJobs(store: JobStore, tenantId: string): Promise<Job[]> {
  return (await store.list(tenantId, { limit: 100_000 })).jobs;
}

/**
 * Reads over time: one terminal state per job (any two terminal reads agree), and no read that
 * began after another had answered shows an earlier state (statuses only move forward; terminal
 * is forever). Concurrent reads (overlapping in time) may come back in any order.
 */
export function checkStatusHistory(reads: readonly StatusRead[]): string[] {
  const violations: string[] = [];
  const byJob = new Map<string, StatusRead[]>();
  for (const read of reads) byJob.set(read.id, [...(byJob.get(read.id) ?? []), read]);
  for (const [id, history] of byJob) {
    const terminal = new Set(history.filter((r) => TERMINAL.has(r.status)).map((r) => r.status));
    if (terminal.size > 1) violations.push(`${id}: read as ${[...terminal].join(" and ")}`);
    for (const read of history) if (rank(read.status) < 0) violations.push(`${id}: unknown status ${read.status}`);
    // Each read against every read that had answered before it was sent.
    const byAnswer = [...history].sort((a, b) => a.at - b.at);
    let highest: StatusRead | null = null;
    let k = 0;
    for (const read of [...history].sort((a, b) => a.sentAt - b.sentAt)) {
      while (k < byAnswer.length && byAnswer[k]!.at < read.sentAt) {
        const earlier = byAnswer[k++]!;
        if (!highest || rank(earlier.status) > rank(highest.status)) highest = earlier;
      }
      if (highest && rank(read.status) < rank(highest.status))
        violations.push(`${id}: read ${highest.status}, then later ${read.status}`);
    }
  }
  return violations;
}

/** Every job ended; the final reads through the API (those made) agree with the table. */
export function checkAllTerminal(jobs: readonly Job[], finalReads: ReadonlyMap<string, string>): string[] {
  const violations: string[] = [];
  for (const job of jobs) {
    if (!TERMINAL.has(job.status)) violations.push(`${job.id}: still ${job.status}`);
    const read = finalReads.get(job.id);
    if (read !== undefined && read !== job.status)
      violations.push(`${job.id}: table says ${job.status}, the API said ${read}`);
  }
  return violations;
}

/**
 * Upstream creates against jobs: each upstream response is tagged with an existing job, no job
 * was created upstream twice, and a job's recorded upstream id is a response tagged with it.
 * Returns the upstream responses no job records: the relay died after sending the create and
 * before recording its id. That is allowed only for a job that then ended failed with
 * `upstream_create_interrupted` (never re-sent), or that the caller cancelled meanwhile.
 */
export function checkUpstreamCreates(
  sim: Simulator,
  jobs: readonly Job[],
): { violations: string[]; unrecorded: string[] } {
  const violations: string[] = [];
  const byId = new Map(jobs.map((job) => [job.id, job]));
  const createdFor = new Map<string, string[]>();
  const tagOf = new Map<string, string>();
  for (const upstreamId of sim.stats().createdIds) {
    const response = sim.getResponse(upstreamId) as { metadata?: Record<string, string> } | undefined;
    const jobId = response?.metadata?.[JOB_ID_METADATA_KEY];
    if (!jobId) {
      violations.push(`upstream ${upstreamId} carries no ${JOB_ID_METADATA_KEY}`);
      continue;
    }
    tagOf.set(upstreamId, jobId);
    if (!byId.has(jobId)) violations.push(`upstream ${upstreamId} belongs to ${jobId}, which is not in the table`);
    createdFor.set(jobId, [...(createdFor.get(jobId) ?? []), upstreamId]);
  }
  for (const [jobId, ids] of createdFor)
    if (ids.length > 1) violations.push(`${jobId}: created upstream ${ids.length} times (${ids.join(", ")})`);
  const recorded = new Set<string>();
  for (const job of jobs) {
    if (job.upstreamId) {
      recorded.add(job.upstreamId);
      if (tagOf.get(job.upstreamId) !== job.id)
        violations.push(
          `${job.id}: records upstream ${job.upstreamId}, tagged ${tagOf.get(job.upstreamId) ?? "(not created here)"}`,
        );
    } else if (job.status === "completed" || job.status === "incomplete") {
      violations.push(`${job.id}: ${job.status} without an upstream id`);
    }
  }
  const unrecorded = [...tagOf.keys()].filter((id) => !recorded.has(id));
  for (const id of unrecorded) {
    const job = byId.get(tagOf.get(id)!);
    if (job && job.endReason?.code !== "upstream_create_interrupted" && job.status !== "cancelled")
      violations.push(
        `${job.id}: upstream ${id} is not recorded, yet the job ended ${job.status} (${job.endReason?.code ?? "no reason"})`,
      );
  }
  return { violations, unrecorded };
}

/**
 * Webhooks: every ended job's event arrived (verified, accepted), all copies for one job carry
 * the same webhook-id, no two jobs share one, and the event says how the job ended.
 */
export function checkWebhooks(received: readonly Received[], jobs: readonly Job[]): string[] {
  const violations: string[] = [];
  const byJob = new Map<string, Received[]>();
  for (const r of received) {
    if (!r.verified)
      violations.push(`a delivery failed signature verification (webhook-id ${String(r.headers["webhook-id"])})`);
    let event: { type?: string; data?: { id?: string; status?: string } };
    try {
      event = JSON.parse(r.body);
    } catch {
      violations.push(`a delivery with a body that is not JSON`);
      continue;
    }
    const id = event.data?.id ?? "(no id)";
    byJob.set(id, [...(byJob.get(id) ?? []), r]);
  }
  const ids = new Set(jobs.map((j) => j.id));
  for (const id of byJob.keys()) if (!ids.has(id)) violations.push(`a webhook for unknown job ${id}`);
  const owner = new Map<string, string>();
  for (const job of jobs) {
    const copies = byJob.get(job.id) ?? [];
    const accepted = copies.filter((r) => r.verified && r.status >= 200 && r.status < 300);
    if (accepted.length === 0) {
      violations.push(`${job.id} (${job.status}): webhook never delivered (${copies.length} attempts seen)`);
      continue;
    }
    const webhookIds = new Set(copies.map((r) => String(r.headers["webhook-id"])));
    if (webhookIds.size !== 1)
      violations.push(`${job.id}: ${webhookIds.size} different webhook-ids (${[...webhookIds].join(", ")})`);
    for (const webhookId of webhookIds) {
      const other = owner.get(webhookId);
      if (other && other !== job.id) violations.push(`webhook-id ${webhookId} used by ${other} and ${job.id}`);
      owner.set(webhookId, job.id);
    }
    for (const r of accepted) {
      const event = JSON.parse(r.body) as { type: string; data: { status: string } };
      if (event.type !== webhookEventType(`response.${job.status}`) || event.data.status !== job.status)
        violations.push(`${job.id}: ended ${job.status}, webhook said ${event.type} / ${event.data.status}`);
    }
  }
  return violations;
}
