import { EMPTY_JOB_FIELDS, type Job, type JobBudget, type WebhookTarget } from "#shared/domain/job.ts";
import { effectiveLimits, fromMicros, monthOf, toMicros } from "#shared/domain/tenant-limits.ts";
import {
  IdempotencyMismatchError,
  InvalidRequestError,
  NotFoundError,
  QuotaExceededError,
  RateLimitedError,
  UpstreamAuthError,
  UpstreamRejectedError,
} from "#shared/errors.ts";
import { canonicalJson, newJobId, sha256Hex } from "#shared/ids.ts";
import type { Deps, IdempotencyClaim, Refusal, Tenant } from "#shared/ports.ts";
import { boundByBudget } from "./job-budget.ts";
import { sendCreate } from "./job-transitions.ts";
import { upstreamIdOfPrevious } from "./previous-response.ts";

/**
 * How the caller wants the answer: `background` (202 at once, as OpenAI's background mode),
 * `blocking` (the finished Response, as a plain OpenAI create) or `stream` (SSE). The relay runs
 * every job in background upstream; the last two create it streaming so it can be watched live.
 */
export type SubmitMode = "background" | "blocking" | "stream";

export interface SubmitInput {
  tenant: Tenant;
  /** The caller's validated `responses.create` body, the relay's `webhook` taken out. */
  body: Record<string, unknown> & { model: string; metadata?: Record<string, string> };
  webhook: WebhookTarget | null;
  /** `relay.max_cost_usd`: a hard cap on the job's cost (job-budget.ts), or null. */
  maxCostUsd?: number | null;
  idempotencyKey: string | null;
  mode: SubmitMode;
  /**
   * The request is an SDK's automatic retry (`x-stainless-retry-count` ≥ 1): the SDKs send no
   * Idempotency-Key, so it attaches to the job an identical earlier attempt made, if any.
   */
  sdkRetry: boolean;
}

export interface SubmitResult {
  job: Job;
  /** True when an earlier request (same Idempotency-Key, or the attempt an SDK retries) made this job. */
  replayed: boolean;
}

/** How long an SDK's retry may find the job its first attempt made. */
const SDK_RETRY_WINDOW_SECONDS = 3600;
/**
 * A pending-job slot outlives the job's deadline by this much (the poller ends a job at its
 * deadline; the slot is freed in that write). Only a slot whose job's end was never written, a
 * crash in the middle of a submit, say, lives this long, and then frees itself.
 */
const PENDING_SLOT_SLACK_MS = 15 * 60_000;

/**
 * Submit: record the job (intent) first, then create the upstream background response and record
 * its id. A crash anywhere in between leaves a job the poller settles (see advance-job.ts). A
 * create the upstream refuses outright leaves no job: the caller gets the upstream's answer, and a
 * replay of the same Idempotency-Key gets that answer again.
 */
export async function submitJob(input: SubmitInput, deps: Deps): Promise<SubmitResult> {
  const now = deps.clock.now();
  const tenantId = input.tenant.id;
  // The webhook is part of what the caller asked for, so it counts toward "same body".
  const bodyHash = sha256Hex(
    canonicalJson({
      body: input.body,
      webhook: input.webhook,
      mode: input.mode,
      // Only when set, so hashes of submits without a cap are what they always were.
      ...(input.maxCostUsd != null ? { maxCostUsd: input.maxCostUsd } : {}),
    }),
  );
  if (input.sdkRetry && !input.idempotencyKey) {
    const earlier = await deps.jobs.recallSubmit(tenantId, bodyHash);
    const job = earlier ? await deps.jobs.get(earlier) : null;
    if (job && job.tenantId === tenantId) return { job, replayed: true };
  }

  // Routed before anything is stored: a model no upstream serves is the caller's 400, not a job.
  const info = deps.models.route(input.body.model);
  if (!info)
    throw new InvalidRequestError(`The model '${input.body.model}' is not served by this relay.`, {
      param: "model",
      code: "model_not_found",
    });

  const limits = effectiveLimits(input.tenant.limits);
  if (limits.monthlySpendUsd !== null) {
    const spent = await deps.quotas.spend(tenantId, monthOf(now));
    if (spent.costMicros >= toMicros(limits.monthlySpendUsd))
      throw new QuotaExceededError(
        `This relay tenant has spent $${fromMicros(spent.costMicros).toFixed(2)} of its $${limits.monthlySpendUsd} limit for ${spent.month}. New jobs are refused until next month or a higher limit.`,
        { code: "insufficient_quota" },
      );
  }
  let body = input.body;
  let budget: JobBudget | null = null;
  if (input.maxCostUsd != null) ({ body, budget } = await boundByBudget(tenantId, body, input.maxCostUsd, info, deps));
  const id = newJobId(now);
  const job: Job = {
    ...EMPTY_JOB_FIELDS,
    id,
    tenantId,
    status: "queued",
    version: 1,
    model: input.body.model,
    metadata: input.body.metadata ?? {},
    createdAt: now,
    updatedAt: now,
    statusChangedAt: now,
    deadlineAt: now + info.deadlineSeconds * 1000,
    queuedDeadlineAt: now + info.queuedLimitSeconds * 1000,
    createState: "pending",
    upstream: info.upstream,
    include: Array.isArray(input.body.include) ? input.body.include.map(String) : null,
    previousUpstreamId:
      input.body.previous_response_id == null
        ? null
        : await upstreamIdOfPrevious(tenantId, input.body.previous_response_id, deps),
    webhook: input.webhook,
    idempotencyKey: input.idempotencyKey,
    request: { chunks: 0, bytes: 0, sha256: "" },
    budget,
  };

  const claim: IdempotencyClaim | undefined = input.idempotencyKey
    ? {
        tenantId,
        key: input.idempotencyKey,
        bodyHash,
        expiresAt: Math.floor(now / 1000) + deps.settings.idempotencyTtlSeconds,
      }
    : undefined;
  // The tenant's pending-job slot, taken before the job exists and freed by the write that ends it.
  const slot = await deps.quotas.acquireSlot(
    tenantId,
    "jobs",
    id,
    limits.pendingJobs,
    now,
    job.deadlineAt + PENDING_SLOT_SLACK_MS,
  );
  if (!slot.granted)
    throw new RateLimitedError(
      `Too many pending jobs for this relay tenant: limit ${limits.pendingJobs}. Wait for some to end, or cancel some.`,
      {
        code: "too_many_pending_jobs",
        retryAfterSeconds: 10,
        headers: {
          "x-ratelimit-limit-pending-jobs": String(limits.pendingJobs),
          "x-ratelimit-remaining-pending-jobs": "0",
          "x-ratelimit-reset-pending-jobs": "10s",
        },
      },
    );
  // If this process dies before the create is sent, the poller finds the job due after the grace.
  let created: Awaited<ReturnType<Deps["jobs"]["create"]>>;
  try {
    created = await deps.jobs.create(job, body, now + deps.settings.createGraceMs, claim);
  } catch (error) {
    await deps.quotas.releaseSlot(tenantId, "jobs", id);
    throw error;
  }
  if (!created.created) {
    await deps.quotas.releaseSlot(tenantId, "jobs", id);
    if (created.bodyHash !== bodyHash) {
      throw new IdempotencyMismatchError("This Idempotency-Key was already used with a different request body.", {
        param: "Idempotency-Key",
        code: "idempotency_key_reused",
      });
    }
    if (created.refusal) throw refusalError(created.refusal);
    const existing = await deps.jobs.get(created.existingJobId);
    if (!existing) throw new NotFoundError("The job made for this Idempotency-Key no longer exists.");
    return { job: existing, replayed: true };
  }
  if (!claim) {
    await deps.jobs.rememberSubmit(tenantId, bodyHash, id, Math.floor(now / 1000) + SDK_RETRY_WINDOW_SECONDS);
  }

  const step = await sendCreate(created.job, deps, { request: body, stream: input.mode !== "background" });
  if (step.rejected) {
    // Refused outright (bad model, bad parameter, no quota, the relay's key): answer the way
    // OpenAI would have, and keep nothing but the answer itself for a replay of the key.
    if (claim) await deps.jobs.recordRefusal(claim, id, refusalOf(step.rejected));
    await deps.jobs.delete({ ...step.job, idempotencyKey: null });
    throw step.rejected;
  }
  return { job: step.job, replayed: false };
}

function refusalOf(error: UpstreamRejectedError | UpstreamAuthError): Refusal {
  if (error instanceof UpstreamAuthError)
    return {
      status: error.status,
      type: "server_error",
      message: error.message,
      code: error.code,
      param: null,
      auth: true,
    };
  return {
    status: error.status,
    type: error.type,
    message: error.message,
    code: error.code,
    param: error.param,
    auth: false,
  };
}

function refusalError(refusal: Refusal): UpstreamRejectedError | UpstreamAuthError {
  if (refusal.auth) return new UpstreamAuthError(refusal.status);
  return new UpstreamRejectedError(refusal.message, {
    status: refusal.status,
    type: refusal.type,
    code: refusal.code,
    param: refusal.param,
  });
}
