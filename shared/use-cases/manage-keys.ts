import { newApiKey, newWebhookSecret, randomHex, sha256Hex } from "#shared/ids.ts";
import type { Tenant, TenantStore } from "#shared/ports.ts";

/** Creates a tenant with a webhook signing secret and a first API key (shown once, stored hashed). */
export async function createTenant(
  tenants: TenantStore,
  options: { name: string; id?: string; apiKey?: string; webhookSecret?: string; nowMs?: number },
): Promise<{ tenant: Tenant; apiKey: string }> {
  const tenant: Tenant = {
    id: options.id ?? `ten_${randomHex(8)}`,
    name: options.name,
    webhookSecrets: [options.webhookSecret ?? newWebhookSecret()],
    createdAt: options.nowMs ?? Date.now(),
  };
  await tenants.putTenant(tenant);
  const apiKey = await addKey(tenants, tenant.id, options.apiKey);
  return { tenant, apiKey };
}

export async function addKey(
  tenants: TenantStore,
  tenantId: string,
  apiKey: string = newApiKey(),
  label = "default",
): Promise<string> {
  await tenants.putKey(sha256Hex(apiKey), tenantId, label);
  return apiKey;
}

/** Revokes by the key itself (or its SHA-256 hex, for keys nobody kept). */
export async function revokeKey(tenants: TenantStore, keyOrHash: string): Promise<boolean> {
  const hash = /^[0-9a-f]{64}$/.test(keyOrHash) ? keyOrHash : sha256Hex(keyOrHash);
  return tenants.revokeKey(hash);
}
