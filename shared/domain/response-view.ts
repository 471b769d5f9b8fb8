import { toUnixSeconds } from "#shared/clock.ts";
import { isTerminal, type Job } from "./job.ts";
import { statusLabel } from "./labels.ts";

/** The relay's own block in every Response object it returns. */
export interface RelayBlock {
  upstream_id: string | null;
  status_label: string;
  cost_usd: number | null;
  deadline_at: number;
  ended_at: number | null;
  status_url: string;
  cancel_url: string;
  webhook: {
    url: string;
    events: string[] | null;
    delivery: {
      webhook_id: string;
      state: string;
      attempts: number;
      last_status: number | null;
      last_error: string | null;
      next_attempt_at: number | null;
      delivered_at: number | null;
    } | null;
  } | null;
  last_upstream_error: string | null;
}

/**
 * A job as an OpenAI Response object (so the official SDK and OpenAI-shaped clients read it), with
 * the final upstream Response's fields when there is one and the relay's block on top. `id` is
 * always the relay's job id; the upstream's is in `relay.upstream_id`.
 */
export function toResponseObject(
  job: Job,
  final: Record<string, unknown> | null,
  baseUrl: string,
): Record<string, unknown> {
  const output = Array.isArray(final?.output) ? (final.output as unknown[]) : [];
  const statusUrl = `${baseUrl}/v1/responses/${job.id}`;
  const relay: RelayBlock = {
    upstream_id: job.upstreamId,
    status_label: statusLabel(job),
    cost_usd: job.costUsd,
    deadline_at: toUnixSeconds(job.deadlineAt),
    ended_at: isTerminal(job.status) && job.completedAt !== null ? toUnixSeconds(job.completedAt) : null,
    status_url: statusUrl,
    cancel_url: `${statusUrl}/cancel`,
    webhook: job.webhook
      ? {
          url: job.webhook.url,
          events: job.webhook.events ?? null,
          delivery: job.delivery
            ? {
                webhook_id: job.delivery.webhookId,
                state: job.delivery.state,
                attempts: job.delivery.attempts,
                last_status: job.delivery.lastStatus,
                last_error: job.delivery.lastError,
                next_attempt_at: job.delivery.nextAttemptAt === null ? null : toUnixSeconds(job.delivery.nextAttemptAt),
                delivered_at: job.delivery.deliveredAt === null ? null : toUnixSeconds(job.delivery.deliveredAt),
              }
            : null,
        }
      : null,
    last_upstream_error: job.lastUpstreamError,
  };
  return {
    ...(final ?? {}),
    id: job.id,
    object: "response",
    created_at: toUnixSeconds(job.createdAt),
    status: job.status,
    background: true,
    model: (final?.model as string | undefined) ?? job.model,
    // OpenAI sets completed_at only for completed responses.
    completed_at: job.status === "completed" && job.completedAt !== null ? toUnixSeconds(job.completedAt) : null,
    output,
    output_text: outputText(output),
    usage: job.usage,
    error: job.error,
    incomplete_details: job.incompleteDetails,
    metadata: job.metadata,
    relay,
  };
}

/** Concatenated `output_text` parts of message items, as the SDKs compute it. */
export function outputText(output: unknown[]): string {
  const parts: string[] = [];
  for (const item of output as { type?: string; content?: { type?: string; text?: string }[] }[]) {
    if (item?.type !== "message" || !Array.isArray(item.content)) continue;
    for (const part of item.content)
      if (part?.type === "output_text" && typeof part.text === "string") parts.push(part.text);
  }
  return parts.join("");
}
