import type { Job } from "./job.ts";

/** Human status labels, from one mapping, for the status object and the stream. */
export function statusLabel(job: Pick<Job, "status" | "createState" | "lastUpstreamError" | "upstreamCancelPending">): string {
  switch (job.status) {
    case "queued":
      if (job.createState !== "done") return job.lastUpstreamError ? "waiting for the upstream to accept the request…" : "submitting to the upstream…";
      return job.lastUpstreamError ? "background mode (queued), upstream busy, retrying…" : "background mode (queued)…";
    case "in_progress":
      return job.lastUpstreamError ? "running, upstream busy, retrying…" : "running in background mode…";
    case "completed":
      return "completed";
    case "failed":
      return "failed";
    case "cancelled":
      return job.upstreamCancelPending ? "cancelled (telling the upstream…)" : "cancelled";
    case "incomplete":
      return "incomplete (stopped early)";
    case "expired":
      return "expired (deadline passed, cancelled upstream)";
  }
}
