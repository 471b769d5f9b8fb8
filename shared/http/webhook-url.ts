import { InvalidRequestError } from "#shared/errors.ts";
import type { WebhookSender } from "#shared/ports.ts";

/**
 * Checks a caller's webhook URL at submit with the same policy the sender applies at send time
 * (which checks again: DNS can change between the two).
 */
export async function checkWebhookUrl(raw: string, sender: WebhookSender): Promise<void> {
  const refusal = await sender.refusal(raw);
  if (refusal)
    throw new InvalidRequestError(`Invalid 'webhook.url': ${refusal}.`, {
      param: "webhook.url",
      code: "invalid_webhook_url",
    });
}
