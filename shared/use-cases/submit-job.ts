import { EMPTY_JOB_FIELDS, type Job, type WebhookTarget } from "#shared/domain/job.ts";
import { modelInfo } from "#shared/domain/models.ts";
import { IdempotencyMismatchError, NotFoundError } from "#shared/errors.ts";
import { canonicalJson, newJobId, sha256Hex } from "#shared/ids.ts";
import type { Deps, Tenant } from "#shared/ports.ts";
import { sendCreate } from "./job-transitions.ts";

/** The metadata key that ties an upstream response back to its job (crash recovery, webhooks). */
export const JOB_ID_METADATA_KEY = "relay_job_id";

export interface SubmitInput {
  tenant: Tenant;
  /** A validated `responses.create` body, the relay's `webhook` already taken out. */
  body: Record<string, unknown> & { model: string; metadata?: Record<string, string> };
  webhook: WebhookTarget | null;
  idempotencyKey: string | null;
}

export interface SubmitResult {
  job: Job;
  /** True when an earlier request with the same Idempotency-Key made this job. */
  replayed: boolean;
}

/**
 * Submit: record the job (intent) first, then create the upstream background response and record
 * its id. A crash anywhere in between leaves a job the poller settles (see advance-job.ts).
 */
export async function submitJob(input: SubmitInput, deps: Deps): Promise<SubmitResult> {
  const now = deps.clock.now();
  const info = modelInfo(input.body.model);
  const id = newJobId(now);
  const metadata = input.body.metadata ?? {};
  const forwarded = {
    ...input.body,
    background: true,
    store: true,
    metadata: { ...metadata, [JOB_ID_METADATA_KEY]: id },
  };
  const job: Job = {
    ...EMPTY_JOB_FIELDS,
    id,
    tenantId: input.tenant.id,
    status: "queued",
    version: 1,
    model: input.body.model,
    metadata,
    createdAt: now,
    updatedAt: now,
    statusChangedAt: now,
    deadlineAt: now + info.deadlineSeconds * 1000,
    queuedDeadlineAt: now + info.queuedLimitSeconds * 1000,
    createState: "pending",
    webhook: input.webhook,
    idempotencyKey: input.idempotencyKey,
    request: { chunks: 0, bytes: 0, sha256: "" },
  };

  const claim = input.idempotencyKey
    ? {
        tenantId: input.tenant.id,
        key: input.idempotencyKey,
        // The webhook is part of what the caller asked for, so it counts toward "same body".
        bodyHash: sha256Hex(canonicalJson({ body: input.body, webhook: input.webhook })),
        expiresAt: Math.floor(now / 1000) + deps.settings.idempotencyTtlSeconds,
      }
    : undefined;
  // If this process dies before the create is sent, the poller finds the job due after the grace.
  const created = await deps.jobs.create(job, forwarded, now + deps.settings.createGraceMs, claim);
  if (!created.created) {
    if (created.bodyHash !== claim!.bodyHash) {
      throw new IdempotencyMismatchError("This Idempotency-Key was already used with a different request body.", {
        param: "Idempotency-Key",
        code: "idempotency_key_reused",
      });
    }
    const existing = await deps.jobs.get(created.existingJobId);
    if (!existing) throw new NotFoundError("The job made for this Idempotency-Key no longer exists.");
    return { job: existing, replayed: true };
  }

  const step = await sendCreate(created.job, deps, forwarded);
  // The upstream refused the request outright (bad model, bad parameter, no quota): answer the
  // way OpenAI would have. The failed job stays on record.
  if (step.rejected) throw step.rejected;
  return { job: step.job, replayed: false };
}
