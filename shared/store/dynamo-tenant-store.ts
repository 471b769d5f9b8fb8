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
/**
 * A key in use is looked up again this long before its answer runs out, while the answer still
 * serves: a busy instance never holds its requests for the lookup. The new answer counts from
 * when its read was sent, so no answer is ever used longer than KEY_CACHE_MS after it was read.
 */
const REFRESH_AHEAD_MS = 1_000;

interface KeyAnswer {
  tenant: Tenant | null;
  /** performance.now() until which it serves. */
  until: number;
  refreshing: boolean;
}

/** Tenants and their API keys. Keys are stored only as SHA-256 hashes. */
export class DynamoTenantStore implements TenantStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cacheMs: number;
  readonly #keys = new Map<string, KeyAnswer>();
  /** Lookups in flight, one per key: requests that find no answer wait for the same read. */
  readonly #lookups = new Map<string, Promise<Tenant | null>>();
  /** Bumped by every change made here, so a lookup that began before one never stores its answer. */
  #generation = 0;

  constructor(options: { doc: DynamoDBDocumentClient; tableName: string; cacheMs?: number }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
    this.#cacheMs = options.cacheMs ?? KEY_CACHE_MS;
  }

  async tenantForKeyHash(keyHash: string): Promise<Tenant | null> {
    const now = performance.now();
    const hit = this.#keys.get(keyHash);
    if (hit && hit.until > now) {
      if (!hit.refreshing && hit.until - now <= Math.min(REFRESH_AHEAD_MS, this.#cacheMs / 2)) {
        hit.refreshing = true;
        // Failing, it leaves the answer to run out; the next request after that looks up itself.
        void this.#lookUpOnce(keyHash).catch(() => undefined);
      }
      return hit.tenant;
    }
    return this.#lookUpOnce(keyHash);
  }

  #lookUpOnce(keyHash: string): Promise<Tenant | null> {
    const inFlight = this.#lookups.get(keyHash);
    if (inFlight) return inFlight;
    const sentAt = performance.now();
    const generation = this.#generation;
    const lookup = this.#lookUp(keyHash)
      .then((tenant) => {
        if (generation === this.#generation) {
          if (this.#keys.size > 10_000) this.#keys.clear();
          this.#keys.set(keyHash, { tenant, until: sentAt + this.#cacheMs, refreshing: false });
        }
        return tenant;
      })
      .finally(() => {
        if (this.#lookups.get(keyHash) === lookup) this.#lookups.delete(keyHash);
      });
    this.#lookups.set(keyHash, lookup);
    return lookup;
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
    this.#generation++;
    for (const [hash, hit] of this.#keys) if (hit.tenant?.id === tenantId) this.#keys.delete(hash);
  }

  /** Drops the answer for a key, and keeps any lookup already in flight from storing its own. */
  #forgetKey(keyHash: string): void {
    this.#generation++;
    this.#keys.delete(keyHash);
    this.#lookups.delete(keyHash);
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
    this.#forgetKey(keyHash);
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
      this.#forgetKey(keyHash);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
