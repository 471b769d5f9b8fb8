import { effectiveLimits, LIMIT_BOUNDS, type TenantLimits } from "#shared/domain/tenant-limits.ts";
import { InvalidRequestError, NotFoundError } from "#shared/errors.ts";
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

/**
 * Changes a tenant's limits (only the ones given; `null` for the monthly spend removes it).
 * Each instance sees the change within its key cache's few seconds.
 */
export async function setLimits(
  tenants: TenantStore,
  tenantId: string,
  changes: Partial<TenantLimits>,
): Promise<TenantLimits> {
  const tenant = await tenants.getTenant(tenantId);
  if (!tenant) throw new NotFoundError(`no tenant ${tenantId}`);
  for (const [name, [min, max]] of Object.entries(LIMIT_BOUNDS)) {
    const value = changes[name as keyof typeof LIMIT_BOUNDS];
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
      throw new InvalidRequestError(`${name} must be an integer from ${min} to ${max}.`, { param: name });
  }
  const spend = changes.monthlySpendUsd;
  if (spend !== undefined && spend !== null && !(Number.isFinite(spend) && spend >= 0))
    throw new InvalidRequestError("monthlySpendUsd must be a number of dollars, 0 or more.", {
      param: "monthlySpendUsd",
    });
  const limits = { ...(tenant.limits ?? {}), ...changes };
  await tenants.putTenant({ ...tenant, limits });
  return effectiveLimits(limits);
}
