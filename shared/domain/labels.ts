import type { EndReasonCode, Job, JobStatus, Watch } from "./job.ts";

/** Human status labels, from one mapping, for the status object and the stream. */
export function statusLabel(
  job: Pick<Job, "status" | "createState" | "lastUpstreamError" | "upstreamCancelPending"> &
    Partial<Pick<Job, "endReason" | "watch">>,
): string {
  switch (job.status) {
    case "queued":
      if (job.createState === "unconfirmed") return "confirming the upstream response…";
      if (job.createState !== "done")
        return job.lastUpstreamError
          ? "waiting for the upstream to accept the request…"
          : "submitting to the upstream…";
      if (job.lastUpstreamError) return "background mode (queued), upstream busy, retrying…";
      return `background mode (queued)${WATCH_SUFFIX[job.watch ?? "poll"]}…`;
    case "in_progress":
      if (job.lastUpstreamError) return "running, upstream busy, retrying…";
      return `running in background mode${WATCH_SUFFIX[job.watch ?? "poll"]}…`;
    case "completed":
      return "completed";
    case "failed":
      return "failed";
    case "cancelled": {
      const why = [
        job.endReason ? CANCEL_REASONS[job.endReason.code] : null,
        job.upstreamCancelPending ? "telling the upstream…" : null,
      ];
      const said = why.filter(Boolean).join(", ");
      return said ? `cancelled (${said})` : "cancelled";
    }
    case "incomplete":
      return "incomplete (stopped early)";
  }
}

/** How the relay is watching a running job, as the label says it (polling is the plain label). */
const WATCH_SUFFIX: Record<Watch, string> = {
  stream: ", watched live on its upstream stream",
  push: ", watched by OpenAI's webhooks",
  poll: "",
};

const CANCEL_REASONS: Partial<Record<EndReasonCode, string>> = {
  deadline_exceeded: "deadline passed",
  queued_too_long: "queued upstream too long",
};

/**
 * What a live stream is doing besides the job's own status: `live` (relaying the upstream's
 * stream), `reconnecting` (the upstream stream dropped; resuming from the last sequence number),
 * `polling` (resume refused or failing; polling until the end, then the relay writes the final
 * events itself), `paused` (this connection ends before its host's time limit; resume it).
 */
export type StreamPhase = "live" | "reconnecting" | "polling" | "paused";

const STREAM_PHASE_LABELS: Record<Exclude<StreamPhase, "live">, string> = {
  reconnecting: "reconnecting…",
  polling: "polling…",
  paused: "stream paused: reconnect with Last-Event-ID or starting_after to resume",
};

/** The label a stream shows: the job's status label while live, else what the stream is doing. */
export function streamLabel(status: JobStatus, phase: StreamPhase = "live"): string {
  if (phase !== "live") return STREAM_PHASE_LABELS[phase];
  // Inside a stream the upstream create is done and nothing is being retried: the plain label.
  return statusLabel({ status, createState: "done", lastUpstreamError: null, upstreamCancelPending: false });
}
