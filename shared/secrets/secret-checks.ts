/**
 * What a usable value of each operator secret looks like. A value that fails its check is treated
 * as absent, so it switches off only its own feature, never the whole API.
 */
export type SecretName = "openai-api-key" | "openai-webhook-secret" | `upstream-key:${string}`;

/** Why a value is unusable (never the value itself), or null when it is fine. */
export function secretProblem(name: SecretName, value: string): string | null {
  if (name === "openai-api-key" || name.startsWith("upstream-key:")) {
    if (/\s/.test(value)) return "contains whitespace (a pasted line break or a JSON document instead of the key)";
    if (value.startsWith("{")) return "is a JSON document; store the plain key string";
    return null;
  }
  // Standard Webhooks: `whsec_` then base64 of the key bytes (the standardwebhooks library
  // throws on anything else, which would otherwise fail every request at cold start).
  if (!value.startsWith("whsec_")) return "does not start with whsec_";
  const key = value.slice("whsec_".length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0) return "is not whsec_ followed by base64";
  if (Buffer.from(key, "base64").length < 16) return "is too short to be a signing key";
  return null;
}
