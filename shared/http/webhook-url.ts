import { InvalidRequestError } from "#shared/errors.ts";

/**
 * Checks a caller's webhook URL at submit. Outside development only https is accepted.
 * (Address classification against private ranges arrives with webhook delivery.)
 */
export async function checkWebhookUrl(raw: string, options: { allowPrivate: boolean }): Promise<URL> {
  const url = new URL(raw);
  const allowed = options.allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!allowed.includes(url.protocol)) {
    throw new InvalidRequestError(`Invalid 'webhook.url': the scheme must be ${allowed.join(" or ")}.`, { param: "webhook.url", code: "invalid_value" });
  }
  if (url.username || url.password) {
    throw new InvalidRequestError("Invalid 'webhook.url': credentials in the URL are not allowed.", { param: "webhook.url", code: "invalid_value" });
  }
  return url;
}
