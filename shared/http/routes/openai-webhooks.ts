import { Hono } from "hono";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { isTerminal } from "#shared/domain/job.ts";
import { InvalidRequestError, NotFoundError } from "#shared/errors.ts";
import type { Log } from "#shared/log.ts";
import type { Deps } from "#shared/ports.ts";
import { advanceJob } from "#shared/use-cases/advance-job.ts";

/** How long a seen `webhook-id` is remembered: OpenAI retries for up to 72 h. */
const DEDUPE_SECONDS = 4 * 86_400;

/**
 * OpenAI's own `response.*` webhooks, as an accelerator: a verified event makes the relay look at
 * the job at once instead of at its next poll. Polling stays the backstop, so a lost, late or
 * duplicated event changes nothing but speed.
 */
export function openaiWebhookRoutes(deps: Deps, options: { secret: string | undefined; log: Log }) {
  const app = new Hono();
  const verifier = options.secret ? new Webhook(options.secret) : null;

  app.post("/", async (c) => {
    if (!verifier)
      throw new NotFoundError("OpenAI webhooks are not enabled on this relay (OPENAI_WEBHOOK_SECRET is unset).", {
        code: "webhooks_disabled",
      });
    // The signature covers the exact bytes: verify the raw body, never a re-serialised one.
    const raw = await c.req.text();
    let event: { type?: string; data?: { id?: string } };
    try {
      event = verifier.verify(raw, Object.fromEntries(c.req.raw.headers)) as typeof event;
    } catch (error) {
      const reason = error instanceof WebhookVerificationError ? error.message : "malformed";
      throw new InvalidRequestError(`Webhook signature verification failed: ${reason}.`, { code: "invalid_signature" });
    }
    const webhookId = c.req.header("webhook-id")!;
    if (!(await deps.inbox.claim(`openai:${webhookId}`, Math.floor(deps.clock.now() / 1000) + DEDUPE_SECONDS))) {
      return c.json({ received: true, duplicate: true });
    }
    const upstreamId = event.type?.startsWith("response.") ? event.data?.id : undefined;
    try {
      const job = upstreamId ? await deps.jobs.findByUpstreamId(upstreamId) : null;
      // Only a running job is advanced here (one upstream GET and a write); the caller's own
      // webhook is then sent by the poller, not from this request, so OpenAI gets its 200 at once.
      if (job && !isTerminal(job.status)) await advanceJob(job, deps, { transientFailures: 0, deliverNow: false });
    } catch (error) {
      // Already claimed in the inbox, so OpenAI's retry would be a no-op: the poller is the backstop.
      options.log({
        level: "error",
        msg: "advancing a job from an OpenAI webhook failed",
        upstreamId,
        error: (error as Error).message,
      });
    }
    return c.json({ received: true });
  });

  return app;
}
