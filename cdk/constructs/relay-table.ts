import { RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";
import { INDEXES, TABLE_ATTRIBUTES, TABLE_STREAM_VIEW, type IndexDefinition } from "#shared/store/table-definition.ts";

export interface RelayTableProps {
  /** Deletion protection and RETAIN (prod); otherwise the table goes with the stack. */
  retain: boolean;
}

const PROJECTIONS: Record<IndexDefinition["projection"], ProjectionType> = {
  ALL: ProjectionType.ALL,
  KEYS_ONLY: ProjectionType.KEYS_ONLY,
  INCLUDE: ProjectionType.INCLUDE,
};

const attributeType = (type: "S" | "N") => (type === "N" ? AttributeType.NUMBER : AttributeType.STRING);

/**
 * The relay's single table, built from shared/store/table-definition.ts (the same constants the
 * local stack creates DynamoDB Local's table from), so keys, indexes and TTL cannot drift.
 */
export class RelayTable extends Table {
  constructor(scope: Construct, id: string, props: RelayTableProps) {
    super(scope, id, {
      partitionKey: { name: TABLE_ATTRIBUTES.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_ATTRIBUTES.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE_ATTRIBUTES.ttl,
      // The lifecycle-event outbox (docs/lifecycle-outbox.md): the same view the local stack reads.
      stream: StreamViewType[TABLE_STREAM_VIEW],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.retain,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    for (const index of INDEXES) {
      this.addGlobalSecondaryIndex({
        indexName: index.name,
        // Index partition keys are strings in the definition (createTableInput types them "S").
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: attributeType(index.sortKeyType) },
        projectionType: PROJECTIONS[index.projection],
        nonKeyAttributes: index.nonKeyAttributes,
      });
    }
  }
}
