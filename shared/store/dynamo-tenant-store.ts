import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Tenant, TenantStore } from "#shared/ports.ts";
import { apiKeyKey, tenantKey } from "./keys.ts";

/**
 * How long (real ms) a key lookup is reused. Every request is authenticated, so without a cache each
 * status poll would read two items; with it, a key revoked elsewhere (another instance, `npm run
 * keys`) stops working here within this long, and a changed tenant (its limits) takes effect
 * within it too. The process that revokes forgets the key at once.
 */
export const KEY_CACHE_MS = 5_000;

/** Tenants and their API keys. Keys are stored only as SHA-256 hashes. */
export class DynamoTenantStore implements TenantStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cacheMs: number;
  readonly #keys = new Map<string, { tenant: Tenant | null; until: number }>();
  constructor(options: { doc: DynamoDBDocumentClient; tableName: string; cacheMs?: number }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#cacheMs = options.cacheMs ?? KEY_CACHE_MS;
  }

  async tenantForKeyHash(keyHash: string): Promise<Tenant | null> {
    const hit = this.#keys.get(keyHash);
    if (hit && hit.until > performance.now()) return hit.tenant;
    const tenant = await this.#lookUp(keyHash);
    if (this.#keys.size > 10_000) this.#keys.clear();
    this.#keys.set(keyHash, { tenant, until: performance.now() + this.#cacheMs });
    return tenant;
  }

  async #lookUp(keyHash: string): Promise<Tenant | null> {
    const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: apiKeyKey(keyHash) }));
    if (!Item || Item.revokedAt) return null;
    return this.getTenant(Item.tenantId as string);
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: tenantKey(id) }));
    if (!Item) return null;
    return {
      id: Item.id,
      name: Item.name,
      webhookSecrets: Item.webhookSecrets,
      createdAt: Item.createdAt,
      ...(Item.limits ? { limits: Item.limits } : {}),
    } as Tenant;
  }

  async putTenant(tenant: Tenant): Promise<void> {
    await this.#doc.send(new PutCommand({ TableName: this.#table, Item: { ...tenantKey(tenant.id), ...tenant } }));
    this.#forgetTenant(tenant.id);
  }

  /** Cached answers naming this tenant are dropped, so a change is seen at once here. */
  #forgetTenant(tenantId: string): void {
    for (const [hash, hit] of this.#keys) if (hit.tenant?.id === tenantId) this.#keys.delete(hash);
  }

  async putKey(keyHash: string, tenantId: string, label: string): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...apiKeyKey(keyHash), tenantId, label, createdAt: Date.now() },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    // A lookup of this key just before (answered "no such key") must not outlive its creation here.
    this.#keys.delete(keyHash);
  }

  async revokeKey(keyHash: string): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: apiKeyKey(keyHash),
          UpdateExpression: "SET revokedAt = :now",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeValues: { ":now": Date.now() },
        }),
      );
      this.#keys.delete(keyHash);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
