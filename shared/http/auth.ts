import type { MiddlewareHandler } from "hono";
import { AuthenticationError } from "#shared/errors.ts";
import { sha256Hex } from "#shared/ids.ts";
import type { Tenant, TenantStore } from "#shared/ports.ts";

export type AuthEnv = { Variables: { tenant: Tenant } };

/**
 * Bearer-key auth. Keys are looked up by hash; answers are cached briefly per process so the hot
 * path (status polls) does not read the table every time. A revoked key stops working within `cacheMs`.
 */
export function bearerAuth(
  tenants: TenantStore,
  options: { cacheMs?: number; now?: () => number } = {},
): MiddlewareHandler<AuthEnv> {
  const cacheMs = options.cacheMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { tenant: Tenant | null; until: number }>();
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new AuthenticationError(
        "You didn't provide an API key. You need to provide your relay API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        { code: "missing_api_key" },
      );
    }
    const hash = sha256Hex(match[1]!);
    let hit = cache.get(hash);
    if (!hit || hit.until < now()) {
      hit = { tenant: await tenants.tenantForKeyHash(hash), until: now() + cacheMs };
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, hit);
    }
    // Never echo the key: only its last characters, as OpenAI does.
    if (!hit.tenant)
      throw new AuthenticationError(`Incorrect API key provided: ...${match[1]!.slice(-4)}.`, {
        code: "invalid_api_key",
      });
    c.set("tenant", hit.tenant);
    await next();
  };
}
