import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PROBE_EVERY_MS, stateAfterFailure, type EndpointHealth } from "#shared/domain/endpoint-health.ts";
import type { EndpointHealthStore } from "#shared/ports.ts";
import { endpointKey } from "./keys.ts";

/** Real ms a read is reused: deferring a job to a failing endpoint should not cost a read each time. */
const CACHE_MS = 5_000;
/** An endpoint's record outlives its last failure by this long (DynamoDB TTL), then it is forgotten. */
const KEEP_SECONDS = 30 * 86_400;

/**
 * Webhook endpoints' circuit breakers, one item per origin. Counting is an atomic ADD; state moves
 * are conditional on the state read, so two pollers failing at once move it once. A healthy
 * endpoint has no item at all: a success on one costs no write.
 */
export class DynamoEndpointHealthStore implements EndpointHealthStore {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cache = new Map<string, { health: EndpointHealth | null; until: number }>();

  constructor(options: { doc: DynamoDBDocumentClient; tableName: string }) {
    this.#doc = options.doc;
    this.#table = options.tableName;
  }

  async get(endpoint: string): Promise<EndpointHealth | null> {
    const hit = this.#cache.get(endpoint);
    if (hit && hit.until > performance.now()) return hit.health;
    const { Item } = await this.#doc.send(new GetCommand({ TableName: this.#table, Key: endpointKey(endpoint) }));
    return this.#remember(endpoint, Item ? toHealth(endpoint, Item) : null);
  }

  async recordFailure(endpoint: string, error: string | null, nowMs: number): Promise<EndpointHealth> {
    const { Attributes } = await this.#doc.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: endpointKey(endpoint),
        UpdateExpression:
          "ADD failures :one SET lastFailureAt = :now, failingSince = if_not_exists(failingSince, :now), #state = if_not_exists(#state, :healthy), lastError = :error, expiresAt = :exp",
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: {
          ":one": 1,
          ":now": nowMs,
          ":healthy": "healthy",
          ":error": (error ?? "no answer").slice(0, 300),
          ":exp": Math.floor(nowMs / 1000) + KEEP_SECONDS,
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    let health = toHealth(endpoint, Attributes ?? {});
    const next = stateAfterFailure(health, nowMs);
    if (next !== health.state) {
      try {
        await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: endpointKey(endpoint),
            UpdateExpression:
              next === "disabled" ? "SET #state = :next, disabledAt = :now" : "SET #state = :next, nextProbeAt = :now",
            ConditionExpression: "#state = :was",
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: {
              ":next": next,
              ":was": health.state,
              ":now": next === "disabled" ? nowMs : nowMs + PROBE_EVERY_MS,
            },
          }),
        );
        health = {
          ...health,
          state: next,
          ...(next === "disabled" ? { disabledAt: nowMs } : { nextProbeAt: nowMs + PROBE_EVERY_MS }),
        };
      } catch (caught) {
        if (!(caught instanceof ConditionalCheckFailedException)) throw caught;
        // Someone else moved it (or a success reset it) meanwhile: read what it is now.
        this.#cache.delete(endpoint);
        return (await this.get(endpoint)) ?? health;
      }
    }
    return this.#remember(endpoint, health)!;
  }

  async recordSuccess(endpoint: string): Promise<void> {
    const known = this.#cache.get(endpoint);
    if (known && known.until > performance.now() && known.health === null) return;
    await this.reset(endpoint);
  }

  async claimProbe(endpoint: string, nowMs: number, nextProbeAt: number): Promise<boolean> {
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: endpointKey(endpoint),
          UpdateExpression: "SET nextProbeAt = :next",
          ConditionExpression: "#state = :failing AND (attribute_not_exists(nextProbeAt) OR nextProbeAt <= :now)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":next": nextProbeAt, ":now": nowMs, ":failing": "failing" },
        }),
      );
      const hit = this.#cache.get(endpoint);
      if (hit?.health) hit.health = { ...hit.health, nextProbeAt };
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      this.#cache.delete(endpoint);
      return false;
    }
  }

  async reset(endpoint: string): Promise<void> {
    await this.#doc.send(new DeleteCommand({ TableName: this.#table, Key: endpointKey(endpoint) }));
    this.#remember(endpoint, null);
  }

  #remember(endpoint: string, health: EndpointHealth | null): EndpointHealth | null {
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(endpoint, { health, until: performance.now() + CACHE_MS });
    return health;
  }
}

function toHealth(endpoint: string, item: Record<string, unknown>): EndpointHealth {
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    endpoint,
    state: (item.state as EndpointHealth["state"] | undefined) ?? "healthy",
    failures: num(item.failures) ?? 0,
    failingSince: num(item.failingSince),
    lastFailureAt: num(item.lastFailureAt),
    lastError: typeof item.lastError === "string" ? item.lastError : null,
    nextProbeAt: num(item.nextProbeAt),
    disabledAt: num(item.disabledAt),
  };
}
