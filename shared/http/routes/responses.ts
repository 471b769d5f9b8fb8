import { Hono, type Context } from "hono";
import { JOB_STATUSES } from "#shared/domain/job.ts";
import { toResponseObject } from "#shared/domain/response-view.ts";
import { InvalidRequestError } from "#shared/errors.ts";
import type { Deps } from "#shared/ports.ts";
import { cancelJob } from "#shared/use-cases/cancel-job.ts";
import { streamCursor, streamJob } from "#shared/streaming/http-stream.ts";
import { getJobWithOutput, getOwnedJob } from "#shared/use-cases/get-job.ts";
import { submitJob } from "#shared/use-cases/submit-job.ts";
import type { AuthEnv } from "#shared/http/auth.ts";
import { parseSubmitBody } from "#shared/http/submit-body.ts";
import { readJsonBody } from "#shared/http/json-body.ts";
import { afterParam, jobIdParam, limitParam } from "#shared/http/params.ts";
import { checkWebhookUrl } from "#shared/http/webhook-url.ts";

/** Suggested wait before the first status poll (Retry-After on 202). */
const FIRST_POLL_SECONDS = 2;

export function responsesRoutes(deps: Deps) {
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
    // stream: true also goes upstream: only a response created streaming can be streamed later.
    const body = parsed.stream ? { ...parsed.body, stream: true } : parsed.body;
    const { job, replayed } = await submitJob(
      { tenant: c.get("tenant"), body, webhook: parsed.webhook, idempotencyKey },
      deps,
    );
    if (parsed.stream) {
      // As OpenAI answers a streaming create: 200 and the stream, from response.created on.
      return streamJob(c, deps, job, -1, {
        headers: { Location: `/v1/responses/${job.id}`, ...(replayed ? { "Idempotent-Replayed": "true" } : {}) },
      });
    }
    c.header("Location", `/v1/responses/${job.id}`);
    c.header("Retry-After", String(FIRST_POLL_SECONDS));
    if (replayed) c.header("Idempotent-Replayed", "true");
    const output = job.output ? await deps.jobs.getOutput(job) : null;
    return c.json(toResponseObject(job, output, baseUrl(c)), 202);
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
    // Summaries: a page of full outputs could be megabytes; GET one job for its output.
    const data = page.jobs.map((job) => toResponseObject(job, null, baseUrl(c)));
    return c.json({
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
    const { job, output } = await getJobWithOutput(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    return c.json(toResponseObject(job, output, baseUrl(c)));
  });

  app.post("/:id/cancel", async (c) => {
    const job = await cancelJob(c.get("tenant").id, jobIdParam(c.req.param("id")), deps);
    const output = await deps.jobs.getOutput(job);
    return c.json(toResponseObject(job, output, baseUrl(c)));
  });

  return app;
}
