import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { EventBridgePublisher } from "#shared/events/eventbridge-publisher.ts";
import { type ChangeRecord, lifecycleEventsOf } from "#shared/events/lifecycle-outbox.ts";
import { jsonLog } from "#shared/log.ts";
import type { EventPublisher } from "#shared/ports.ts";
import { instrument } from "./tracing.ts";

/**
 * The outbox in AWS: invoked by the table's DynamoDB Streams event source mapping, publishes the
 * lifecycle events of a batch of changes to the relay's bus. A batch whose events were not all
 * published is reported failed (from its first record), so Lambda delivers it again (bisecting
 * on repeated failure) and after its retries hands it to the on-failure destination; consumers
 * drop repeats by `eventId`.
 */
export function outboxHandler(publisher: EventPublisher) {
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const records = event.Records ?? [];
    const events = lifecycleEventsOf(records as ChangeRecord[]);
    try {
      if (events.length) await publisher.publish(events);
      return { batchItemFailures: [] };
    } catch (error) {
      jsonLog({ level: "error", msg: "outbox batch not published", events: events.length, error: String(error) });
      const first = records[0]?.dynamodb?.SequenceNumber;
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
  };
}

const busName = process.env.RELAY_EVENT_BUS_NAME;
export const handler = outboxHandler(
  busName
    ? new EventBridgePublisher({
        client: instrument(new EventBridgeClient({})),
        busName,
        log: jsonLog,
        throwOnFailure: true,
      })
    : {
        publish: async () => {
          throw new Error("RELAY_EVENT_BUS_NAME is not set");
        },
      },
);
