import type { MiddlewareHandler } from "hono";
import { AuthenticationError } from "#shared/errors.ts";
import { sha256Hex } from "#shared/ids.ts";
import type { Tenant, TenantStore } from "#shared/ports.ts";

export type AuthEnv = { Variables: { tenant: Tenant } };

/**
 * Bearer-key auth. Keys are looked up by hash; the tenant store caches the answer for a few
 * seconds (shared/store/dynamo-tenant-store.ts), which bounds how long a revoked key keeps working
 * on an instance that did not revoke it.
 */
export function bearerAuth(tenants: TenantStore): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new AuthenticationError(
        "You didn't provide an API key. You need to provide your relay API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        { code: "missing_api_key" },
      );
    }
    const tenant = await tenants.tenantForKeyHash(sha256Hex(match[1]!));
    // Never echo the key: only its last characters, as OpenAI does.
    if (!tenant)
      throw new AuthenticationError(`Incorrect API key provided: ...${match[1]!.slice(-4)}.`, {
        code: "invalid_api_key",
      });
    c.set("tenant", tenant);
    await next();
  };
}
