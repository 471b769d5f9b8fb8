import { Webhook } from "standardwebhooks";

/**
 * Standard Webhooks headers for one attempt. With several secrets (a rotation in progress) the
 * signature header carries one `v1,…` per secret; receivers accept any match.
 */
export function signedHeaders(webhookId: string, body: string, secrets: string[], at: Date): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(webhookId, at, body));
  return {
    "content-type": "application/json",
    "user-agent": "responses-relay-webhooks/1",
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
