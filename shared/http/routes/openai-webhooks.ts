import { Hono } from "hono";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { InvalidRequestError, NotFoundError } from "#shared/errors.ts";
import type { Log } from "#shared/log.ts";
import type { Deps } from "#shared/ports.ts";
import { followUpstreamEvent } from "#shared/use-cases/upstream-event.ts";

/** How long a seen `webhook-id` is remembered: OpenAI retries for up to 72 h. */
const DEDUPE_SECONDS = 4 * 86_400;

/**
 * OpenAI's own `response.*` webhooks: a verified event makes the relay look at the job at once
 * instead of at its next poll, and finds the job of a response whose create answer was lost.
 * Polling stays the backstop for known jobs, so a lost, late or duplicated event changes nothing
 * but speed.
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
    // Verified: OpenAI's webhooks reach the relay, so polls of its jobs can be a backstop only
    // (push-aware polling, shared/use-cases/poll-schedule.ts). A repeat counts too. Only a
    // signal: failing to note it must not fail the event (the next one notes it).
    await deps.inbox.heard(deps.clock.now()).catch(() => undefined);
    const webhookId = c.req.header("webhook-id")!;
    const inboxId = `openai:${webhookId}`;
    // Marked handled only once it was: a process that dies mid-way (or a failure) leaves it
    // unmarked, so OpenAI's retry (for up to 72 h) is followed, not taken for a duplicate. Two
    // copies at once may both be followed; every move they make is fenced and idempotent.
    if (await deps.inbox.seen(inboxId)) return c.json({ received: true, duplicate: true });
    const upstreamId = event.type?.startsWith("response.") ? event.data?.id : undefined;
    try {
      const outcome = upstreamId ? await followUpstreamEvent(upstreamId, deps) : "unknown";
      options.log({ level: "info", msg: "OpenAI webhook followed", type: event.type, upstreamId, outcome });
    } catch (error) {
      // For a known job the poller is the backstop; for a response whose create answer was lost
      // this event may be the only way to find it: answer 502 so OpenAI sends it again.
      options.log({
        level: "warn",
        msg: "following an OpenAI webhook failed; OpenAI will send it again",
        upstreamId,
        error: (error as Error).message,
      });
      throw error;
    }
    await deps.inbox.claim(inboxId, Math.floor(deps.clock.now() / 1000) + DEDUPE_SECONDS);
    return c.json({ received: true });
  });

  return app;
}
