import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { Log } from "#shared/log.ts";
import type { EventPublisher, LifecycleEvent } from "#shared/ports.ts";

const EVENT_SOURCE = "responses-relay";

/** "in_progress" -> "Response In Progress": detail-types that read well in a rule. */
export function detailType(status: string): string {
  return `Response ${status
    .split("_")
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join(" ")}`;
}

/**
 * Lifecycle events on the relay's bus. PutEvents takes 10 entries a call and can fail some of
 * them under an HTTP 200: only the failed entries are sent again.
 */
export class EventBridgePublisher implements EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;
  readonly #log: Log;
  readonly #attempts: number;
  readonly #throwOnFailure: boolean;
  /**
   * `throwOnFailure`: after the last attempt, reject instead of logging and moving on (the outbox
   * handler then leaves the stream records to be delivered again).
   */
  constructor(options: {
    client: EventBridgeClient;
    busName: string;
    log?: Log;
    attempts?: number;
    throwOnFailure?: boolean;
  }) {
    this.#throwOnFailure = options.throwOnFailure ?? false;
    this.#client = options.client;
    this.#busName = options.busName;
    this.#log = options.log ?? (() => {});
    this.#attempts = options.attempts ?? 4;
  }

  async publish(events: LifecycleEvent[]): Promise<void> {
    const entries: PutEventsRequestEntry[] = events.map((event) => ({
      EventBusName: this.#busName,
      Source: EVENT_SOURCE,
      DetailType: detailType(event.status),
      Time: new Date(event.at),
      Resources: [],
      Detail: JSON.stringify({ ...event, at: new Date(event.at).toISOString() }),
    }));
    for (let start = 0; start < entries.length; start += 10) await this.#put(entries.slice(start, start + 10));
  }

  async #put(batch: PutEventsRequestEntry[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        const result = await this.#client.send(new PutEventsCommand({ Entries: pending }));
        if (!result.FailedEntryCount) return;
        // Entries come back in request order; the failed ones carry an ErrorCode.
        const failed = pending.filter((_, i) => result.Entries?.[i]?.ErrorCode);
        if (attempt >= this.#attempts) {
          this.#log({
            level: "error",
            msg: "lifecycle events not published",
            count: failed.length,
            errors: result.Entries?.map((e) => e.ErrorCode).filter(Boolean),
          });
          if (this.#throwOnFailure) throw new UnpublishedEventsError(failed.length);
          return;
        }
        pending = failed;
      } catch (error) {
        if (error instanceof UnpublishedEventsError) throw error;
        if (attempt >= this.#attempts) {
          this.#log({
            level: "error",
            msg: "lifecycle events not published",
            count: pending.length,
            error: (error as Error).message,
          });
          if (this.#throwOnFailure) throw error;
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}

/** Some events were still refused after the last attempt (with `throwOnFailure`). */
class UnpublishedEventsError extends Error {
  constructor(readonly count: number) {
    super(`${count} lifecycle events not published`);
    this.name = "UnpublishedEventsError";
  }
}

/** The local stack's stand-in for the bus: the same events, as log lines. */
export class LoggingEventPublisher implements EventPublisher {
  constructor(private readonly log: Log) {}
  async publish(events: LifecycleEvent[]): Promise<void> {
    for (const event of events)
      this.log({
        level: "info",
        msg: "lifecycle event",
        source: EVENT_SOURCE,
        detailType: detailType(event.status),
        detail: event,
      });
  }
}
