import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { startReceiver } from "#test/support/receiver.ts";

/** DELETE, input items and input token counts, through real HTTP, DynamoDB Local and the simulator. */
let relay: RelayHarness;
let client: OpenAI;
let otherKey: string;
beforeAll(async () => {
  relay = await startRelay({ behaviour: { queuedMs: 1000, runMs: 3000, outputBytes: 400 } });
  client = new OpenAI({ baseURL: `${relay.url}/v1`, apiKey: relay.apiKey, maxRetries: 0 });
  otherKey = (await createTenant(relay.deps.tenants, { name: "other" })).apiKey;
});
afterAll(() => relay.close());

const submit = (body: Record<string, unknown>) =>
  relay.call("POST", "/v1/responses", { model: "gpt-5-pro", background: true, ...body });

/** Every item still stored in the job's partition (request, output, event log, deliveries). */
async function partitionItems(id: string) {
  const page = await relay.table.doc.send(
    new QueryCommand({
      TableName: relay.table.tableName,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": `JOB#${id}` },
      ConsistentRead: true,
    }),
  );
  return page.Items ?? [];
}

describe("DELETE /v1/responses/{id}", () => {
  it("deletes a finished job upstream and locally, with everything stored beside it", async () => {
    const secret = (await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!;
    const receiver = await startReceiver(secret);
    try {
      const created = await submit({ input: "to be deleted", webhook: { url: receiver.url } });
      const done = await relay.settle(created.body.id);
      await relay.runUntil(() => receiver.accepted().length === 1);
      await relay.call("GET", `/v1/responses/${created.body.id}?stream=true`);
      const upstreamId = done.relay.upstream_id as string;
      expect(relay.sim.getResponse(upstreamId)).toBeDefined();
      expect((await partitionItems(created.body.id)).length).toBeGreaterThan(3);

      const deleted = await relay.call("DELETE", `/v1/responses/${created.body.id}`);
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ id: created.body.id, object: "response", deleted: true });
      expect(relay.sim.getResponse(upstreamId)).toBeUndefined();
      expect(await partitionItems(created.body.id)).toEqual([]);
      expect((await relay.call("GET", `/v1/responses/${created.body.id}`)).status).toBe(404);
      expect((await relay.call("GET", `/v1/responses/${created.body.id}/input_items`)).status).toBe(404);
      const listed = (await relay.call("GET", "/v1/responses?limit=100")).body.data.map((r: { id: string }) => r.id);
      expect(listed).not.toContain(created.body.id);
      const again = await relay.call("DELETE", `/v1/responses/${created.body.id}`);
      expect(again.status).toBe(404);
      expect(again.body.error).toMatchObject({ type: "invalid_request_error", param: "response_id" });
    } finally {
      await receiver.close();
    }
  });

  it("answers another tenant's id exactly like a missing one, and leaves the job alone", async () => {
    const created = await submit({ input: "mine" });
    const stranger = await relay.call("DELETE", `/v1/responses/${created.body.id}`, undefined, {}, otherKey);
    const missing = await relay.call("DELETE", "/v1/responses/resp_doesnotexist", undefined, {}, otherKey);
    expect(stranger.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(stranger.body.error.message.replace(created.body.id, "X")).toBe(
      missing.body.error.message.replace("resp_doesnotexist", "X"),
    );
    expect((await relay.call("GET", `/v1/responses/${created.body.id}`)).status).toBe(200);
  });

  it("cancels a running job upstream before deleting it, so nothing runs unwatched", async () => {
    const created = await submit({ input: "long", metadata: { sim_run_ms: "600000" } });
    await relay.runUntil(
      async () => (await relay.call("GET", `/v1/responses/${created.body.id}`)).body.status === "in_progress",
    );
    const upstreamId = (await relay.deps.jobs.get(created.body.id))!.upstreamId!;
    const cancelsBefore = relay.sim.stats().ops.cancel;
    await client.responses.delete(created.body.id);
    expect(relay.sim.stats().ops.cancel).toBe(cancelsBefore + 1);
    expect(relay.sim.getResponse(upstreamId)).toBeUndefined();
    expect(await relay.deps.jobs.get(created.body.id)).toBeNull();
    // The poller had it scheduled: it drops it without recreating anything.
    for (let i = 0; i < 5; i++) {
      relay.clock.advance(5_000);
      await relay.poller.tick();
    }
    expect(await partitionItems(created.body.id)).toEqual([]);
  });

  it("deletes a job the upstream never saw, and one the upstream already forgot", async () => {
    relay.sim.injectFault({ op: "create", status: 503, times: 1 });
    const pending = await submit({ input: "upstream down" });
    expect(pending.status).toBe(202);
    expect((await relay.deps.jobs.get(pending.body.id))!.upstreamId).toBeNull();
    expect((await relay.call("DELETE", `/v1/responses/${pending.body.id}`)).body.deleted).toBe(true);

    const forgotten = await submit({ input: "gone upstream" });
    const done = await relay.settle(forgotten.body.id);
    await new OpenAI({ baseURL: relay.sim.url, apiKey: "sk-simulator" }).responses.delete(done.relay.upstream_id);
    expect((await relay.call("DELETE", `/v1/responses/${forgotten.body.id}`)).body.deleted).toBe(true);
    expect(await relay.deps.jobs.get(forgotten.body.id)).toBeNull();
  });

  it("keeps the job when the upstream cannot be reached, so a retry finishes the delete", async () => {
    const created = await submit({ input: "retry me" });
    await relay.settle(created.body.id);
    relay.sim.injectFault({ op: "delete", status: 500, times: 1 });
    const failed = await relay.call("DELETE", `/v1/responses/${created.body.id}`);
    expect(failed.status).toBe(502);
    expect(failed.body.error.type).toBe("server_error");
    expect((await relay.call("GET", `/v1/responses/${created.body.id}`)).status).toBe(200);
    expect((await relay.call("DELETE", `/v1/responses/${created.body.id}`)).status).toBe(200);
  });
});

describe("GET /v1/responses/{id}/input_items", () => {
  it("lists a job's input in OpenAI's list shape, newest first by default, with cursor pagination", async () => {
    const input = [
      { role: "developer", content: "Be brief." },
      { role: "user", content: "First question." },
      { role: "assistant", content: "First answer." },
      { role: "user", content: [{ type: "input_text", text: "Second question." }] },
    ];
    const created = await submit({ input });
    await relay.settle(created.body.id);
    const all = (await relay.call("GET", `/v1/responses/${created.body.id}/input_items?order=asc`)).body;
    expect(all).toMatchObject({ object: "list", has_more: false });
    expect(all.data.map((item: { role: string }) => item.role)).toEqual(["developer", "user", "assistant", "user"]);
    expect(all.data.map(itemText)).toEqual(["Be brief.", "First question.", "First answer.", "Second question."]);
    for (const item of all.data) expect(item).toMatchObject({ id: expect.any(String), type: "message" });
    expect(all.first_id).toBe(all.data[0].id);
    expect(all.last_id).toBe(all.data[3].id);

    const desc = (await relay.call("GET", `/v1/responses/${created.body.id}/input_items`)).body;
    expect(desc.data.map(itemText)).toEqual([...all.data.map(itemText)].reverse());

    // The SDK's auto-pagination walks the pages with `after`.
    const walked: string[] = [];
    for await (const item of client.responses.inputItems.list(created.body.id, { limit: 1, order: "asc" }))
      walked.push(itemText(item));
    expect(walked).toEqual(all.data.map(itemText));
    const page = (await relay.call("GET", `/v1/responses/${created.body.id}/input_items?order=asc&limit=2`)).body;
    expect(page.has_more).toBe(true);
    expect(page.data.map(itemText)).toEqual(["Be brief.", "First question."]);
  });

  it("derives the items from the stored request while the upstream has no response yet", async () => {
    relay.sim.injectFault({ op: "create", status: 503, times: 1 });
    const created = await submit({ input: "Waiting for the upstream." });
    expect((await relay.deps.jobs.get(created.body.id))!.upstreamId).toBeNull();
    const first = (await relay.call("GET", `/v1/responses/${created.body.id}/input_items`)).body;
    expect(first).toMatchObject({ object: "list", has_more: false });
    expect(first.data).toEqual([
      {
        id: expect.stringMatching(/^msg_/),
        type: "message",
        role: "user",
        status: "completed",
        content: [{ type: "input_text", text: "Waiting for the upstream." }],
      },
    ]);
    const again = (await relay.call("GET", `/v1/responses/${created.body.id}/input_items`)).body;
    expect(again.data[0].id).toBe(first.data[0].id);
    await relay.call("POST", `/v1/responses/${created.body.id}/cancel`);
  });

  it("refuses bad query values with OpenAI's 400, and another tenant's id with 404", async () => {
    const created = await submit({ input: "q" });
    for (const query of ["limit=0", "limit=101", "limit=abc", "order=sideways"]) {
      const res = await relay.call("GET", `/v1/responses/${created.body.id}/input_items?${query}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: "invalid_request_error", param: query.split("=")[0] });
    }
    const stranger = await relay.call("GET", `/v1/responses/${created.body.id}/input_items`, undefined, {}, otherKey);
    expect(stranger.status).toBe(404);
  });
});

describe("POST /v1/responses/input_tokens", () => {
  it("counts through the upstream, as the SDK calls it", async () => {
    const counted = await client.responses.inputTokens.count({ model: "gpt-5-pro", input: "Count these words." });
    expect(counted.object).toBe("response.input_tokens");
    expect(counted.input_tokens).toBeGreaterThan(0);
  });

  it("translates previous_response_id from a relay job to the upstream response", async () => {
    const first = await submit({ input: "Remember: the answer is 42." });
    await relay.settle(first.body.id);
    const counted = await client.responses.inputTokens.count({
      model: "gpt-5-pro",
      input: "What was the answer?",
      previous_response_id: first.body.id,
    });
    const alone = await client.responses.inputTokens.count({ model: "gpt-5-pro", input: "What was the answer?" });
    expect(counted.input_tokens).toBeGreaterThan(alone.input_tokens);
  });

  it("answers OpenAI's previous_response_not_found for an unknown or another tenant's id", async () => {
    const theirs = await submit({ input: "not yours" });
    for (const [id, key] of [
      ["resp_doesnotexist", relay.apiKey],
      [theirs.body.id, otherKey],
    ] as const) {
      const res = await relay.call(
        "POST",
        "/v1/responses/input_tokens",
        { model: "gpt-5-pro", input: "x", previous_response_id: id },
        {},
        key,
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({
        message: `Previous response with id '${id}' not found.`,
        type: "invalid_request_error",
        param: "previous_response_id",
        code: "previous_response_not_found",
      });
    }
  });

  it("refuses a body that is not a JSON object with a 400", async () => {
    for (const body of ["", "not json", "[1,2]", "null"]) {
      const res = await relay.call("POST", "/v1/responses/input_tokens", body);
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe("invalid_request_error");
    }
  });
});

function itemText(item: unknown): string {
  const content = (item as { content?: { text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? "").join("");
}
