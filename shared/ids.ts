import { createHash, randomBytes } from "node:crypto";

/**
 * Job ids look like OpenAI's (`resp_…`) so clients that check the prefix accept them. The time
 * prefix makes ids sort roughly by creation; the random part makes them unguessable.
 */
export function newJobId(nowMs: number): string {
  return `resp_${nowMs.toString(16).padStart(12, "0")}${randomBytes(14).toString("hex")}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A relay API key as shown once to its owner. Only its SHA-256 is stored. */
export function newApiKey(): string {
  return `rr_${randomBytes(24).toString("base64url")}`;
}

/** A Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * Canonical JSON (object keys sorted) so two bodies that differ only in key order hash the same
 * for idempotency.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
