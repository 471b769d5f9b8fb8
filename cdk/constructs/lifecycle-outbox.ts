import { Duration, type RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { FilterCriteria, FilterRule, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { NagSuppressions } from "cdk-nag";
import { Construct } from "constructs";
import { JOB_SK } from "#shared/store/keys.ts";
import { TABLE_ATTRIBUTES } from "#shared/store/table-definition.ts";
import type { RelayFunction } from "./relay-function.ts";

export interface LifecycleOutboxProps {
  /** The outbox function (functions/lifecycle-outbox.ts), already bound to the bus. */
  fn: RelayFunction;
  /** The relay table, with its stream enabled (RelayTable does). */
  table: ITable;
  removalPolicy: RemovalPolicy;
}

/**
 * The table's change stream → the outbox function → the relay's bus (docs/lifecycle-outbox.md).
 * Only job items reach the function (an event filter on the sort key), so chunk, event-log and
 * lease writes cost no invocation. A batch that fails is retried, halved on each failure to
 * isolate a poison record, and after its retries (or once its records are a day old, when the
 * stream drops them) its position is sent to the on-failure queue, which an alarm watches.
 */
export class LifecycleOutbox extends Construct {
  readonly deadLetters: Queue;

  constructor(scope: Construct, id: string, props: LifecycleOutboxProps) {
    super(scope, id);
    this.deadLetters = new Queue(this, "OnFailure", {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
    });
    NagSuppressions.addResourceSuppressions(this.deadLetters, [
      {
        id: "AwsSolutions-SQS3",
        reason:
          "This queue is itself the on-failure destination of the outbox's stream mapping; it holds batch positions for replay.",
      },
    ]);
    props.fn.fn.addEventSource(
      new DynamoEventSource(props.table, {
        // From the oldest record kept: a mapping created (or re-created) after writes loses none.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        retryAttempts: 10,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        maxRecordAge: Duration.days(1),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.deadLetters),
        filters: [
          FilterCriteria.filter({
            dynamodb: { Keys: { [TABLE_ATTRIBUTES.sortKey]: { S: FilterRule.isEqual(JOB_SK) } } },
          }),
        ],
      }),
    );
  }
}
