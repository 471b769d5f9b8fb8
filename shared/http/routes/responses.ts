import { Hono, type Context } from "hono";
import { isTerminal, JOB_STATUSES, type Job } from "#shared/domain/job.ts";
import { toResponseObject } from "#shared/domain/response-view.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { cancelJob } from "#shared/use-cases/cancel-job.ts";
import { streamCursor, streamJob } from "#shared/http/http-stream.ts";
import { getOwnedJob, getOwnedView } from "#shared/use-cases/get-job.ts";
import { submitJob } from "#shared/use-cases/submit-job.ts";
import type { AuthEnv } from "#shared/http/auth.ts";
import { blockingWaitMs, LOCAL_BLOCKING_WAIT_MS, waitForEnd } from "#shared/http/blocking-wait.ts";
import { parseSubmitBody } from "#shared/http/submit-body.ts";
import { readJsonBody } from "#shared/http/json-body.ts";
import { afterParam, jobIdParam, limitParam } from "#shared/http/params.ts";
import { checkWebhookUrl } from "#shared/http/webhook-url.ts";
import { holdSlot } from "#shared/http/limits.ts";
import { jsonReply } from "#shared/http/json-reply.ts";

/** Suggested wait before the first status poll (Retry-After on 202). */
const FIRST_POLL_SECONDS = 2;

/** A job as callers see it: its Response from the upstream's final one and the caller's request. */
async function responseOf(job: Job, deps: Deps, baseUrl: string) {
  const [output, request] = await Promise.all([deps.jobs.getOutput(job), deps.jobs.getShownRequest(job)]);
  return toResponseObject(job, output, request, baseUrl);
}

export function responsesRoutes(deps: Deps, options: { localWaitMs?: number } = {}) {
  const localWaitMs = options.localWaitMs ?? LOCAL_BLOCKING_WAIT_MS;
  const app = new Hono<AuthEnv>();
  const baseUrl = (c: Context) => deps.settings.publicBaseUrl || new URL(c.req.url).origin;

  app.post("/", async (c) => {
    const raw = await readJsonBody(c);
    const idempotencyKey = c.req.header("idempotency-key")?.trim() || null;
    if (idempotencyKey !== null && (idempotencyKey.length > 255 || /[^\x21-\x7e]/.test(idempotencyKey))) {
      throw new InvalidRequestError("Idempotency-Key must be 1 to 255 visible ASCII characters.", {
        param: "Idempotency-Key",
        code: "invalid_value",
      });
    }
    const parsed = parseSubmitBody(raw);
    if (parsed.webhook) await checkWebhookUrl(parsed.webhook.url, deps.webhooks);
    const sdkRetry = Number(c.req.header("x-stainless-retry-count") ?? "0") >= 1;
    // A stream or a blocking wait is a held connection the tenant has only so many of: taken
    // before the job is made, so a refused one leaves nothing running.
    const slot =
      parsed.mode === "background"
        ? null
        : await holdSlot(deps, c.get("tenant"), parsed.mode === "stream" ? "streams" : "waits");
    let submitted: Awaited<ReturnType<typeof submitJob>>;
    try {
      submitted = await submitJob(
        {
          tenant: c.get("tenant"),
          body: parsed.body,
          webhook: parsed.webhook,
          maxCostUsd: parsed.maxCostUsd,
          idempotencyKey,
          mode: parsed.mode,
          sdkRetry,
        },
        deps,
      );
    } catch (error) {
      await slot?.release();
      throw error;
    }
    const { job, replayed } = submitted;
    const location = `/v1/responses/${job.id}`;
    const replayHeaders: Record<string, string> = replayed ? { "Idempotent-Replayed": "true" } : {};
    if (parsed.mode === "stream") {
      // As OpenAI answers a streaming create: 200 and the stream, from response.created on.
      return streamJob(c, deps, job, -1, { headers: { Location: location, ...replayHeaders }, slot: slot! });
    }
    c.header("Location", location);
    for (const [name, value] of Object.entries(replayHeaders)) c.header(name, value);
    if (parsed.mode === "blocking") {
      // As a plain OpenAI create: the finished Response. The job runs in background all the same.
      try {
        const ended = await waitForEnd(job, deps, blockingWaitMs(c, localWaitMs), `${baseUrl(c)}${location}`);
        return jsonReply(c, await responseOf(ended, deps, baseUrl(c)), 200);
      } finally {
        await slot?.release();
      }
    }
    c.header("Retry-After", String(FIRST_POLL_SECONDS));
    return jsonReply(c, await responseOf(job, deps, baseUrl(c)), 202);
  });

  app.get("/", async (c) => {
    const status = c.req.query("status");
    if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
      throw new InvalidRequestError(`Invalid 'status': expected one of ${JOB_STATUSES.join(", ")}.`, {
        param: "status",
        code: "invalid_value",
      });
    }
    const limit = limitParam(c.req.query("limit"));
    const after = afterParam(c.req.query("after"));
    const page = await deps.jobs.list(c.get("tenant").id, { status, limit, after });
    // Summaries: a page of full outputs could be megabytes; GET one job for its output. Each is
    // still a complete Response, its request-derived fields from the request's shown fields (kept
    // per process, as for a status read: a page never reads each job's whole `input`).
    const data = await Promise.all(
      page.jobs.map(async (job) => toResponseObject(job, null, await deps.jobs.getShownRequest(job), baseUrl(c))),
    );
    return jsonReply(c, {
      object: "list",
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: page.hasMore,
    });
  });

  app.get("/:id", async (c) => {
    if (c.req.query("stream") === "true") {
      const afterSeq = streamCursor(c);
      return streamJob(c, deps, await getOwnedJob(c.get("tenant").id, jobIdParam(c.req.param("id")), deps), afterSeq);
    }
    const { job, request, output } = await getOwnedView(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    const include = c.req.queries("include[]") ?? c.req.queries("include");
    let final = output;
    if (include?.length && job.upstreamId) {
      // Fields the stored Response may lack (only asked for now): read it from the upstream with them.
      // An upstream that cannot answer now (or forgot it) leaves the stored Response.
      const fresh = await deps.upstream.retrieve(job.upstreamId, { include }).catch(() => null);
      if (isTerminal(job.status)) final = fresh ?? output;
    }
    return jsonReply(c, toResponseObject(job, final, request, baseUrl(c)));
  });

  app.post("/:id/cancel", async (c) => {
    const job = await cancelJob(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    return jsonReply(c, await responseOf(job, deps, baseUrl(c)));
  });

  return app;
}
