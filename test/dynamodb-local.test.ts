import { describe, expect, it } from "vitest";
import { DescribeTableCommand, DescribeTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { createTestTable } from "#test/support/dynamo.ts";
import { INDEXES, TABLE_ATTRIBUTES } from "#shared/store/table-definition.ts";

describe("DynamoDB Local harness", () => {
  it("creates the table with the shared definition's keys, indexes and TTL", async () => {
    const { client, tableName } = await createTestTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual([
      TABLE_ATTRIBUTES.partitionKey,
      TABLE_ATTRIBUTES.sortKey,
    ]);
    expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName).sort()).toEqual(INDEXES.map((i) => i.name).sort());
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(TABLE_ATTRIBUTES.ttl);
  });
});
