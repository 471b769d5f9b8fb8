import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Tenant, TenantStore } from "#shared/ports.ts";
import { apiKeyKey, tenantKey } from "./keys.ts";

/** Tenants and their API keys. Keys are stored only as SHA-256 hashes. */
export class DynamoTenantStore implements TenantStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  constructor(options: { doc: DynamoDBDocumentClient; tableName: string }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
  }

  async tenantForKeyHash(keyHash: string): Promise<Tenant | null> {
    const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: apiKeyKey(keyHash) }));
    if (!Item || Item.revokedAt) return null;
    return this.getTenant(Item.tenantId as string);
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: tenantKey(id) }));
    if (!Item) return null;
    return { id: Item.id, name: Item.name, webhookSecrets: Item.webhookSecrets, createdAt: Item.createdAt } as Tenant;
  }

  async putTenant(tenant: Tenant): Promise<void> {
    await this.#doc.send(new PutCommand({ TableName: this.#table, Item: { ...tenantKey(tenant.id), ...tenant } }));
  }

  async putKey(keyHash: string, tenantId: string, label: string): Promise<void> {
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...apiKeyKey(keyHash), tenantId, label, createdAt: Date.now() },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
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
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
