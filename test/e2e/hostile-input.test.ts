import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_LOG_STRING, redact } from "#shared/log.ts";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { countItems } from "#test/support/table-count.ts";

// Each input here once answered 500 (or was silently changed); issue 11 lists them.

let relay: RelayHarness;
beforeAll(async () => {
  relay = await startRelay();
});
afterAll(() => relay.close());

const expectOpenAIError = (body: any) => {
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
};

/** Sends a request that must be refused: the status, OpenAI's shape, no item written, no upstream create. */
async function refused(
  status: number,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const items = await countItems(relay);
  const creates = relay.sim.stats().ops.create;
  const res = await relay.call(method, path, body, headers);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(status);
  expectOpenAIError(res.body);
  expect(await countItems(relay)).toBe(items);
  expect(relay.sim.stats().ops.create).toBe(creates);
  return res.body.error;
}

const nested = (depth: number) => `${"[".repeat(depth)}"x"${"]".repeat(depth)}`;

describe("deeply nested bodies", () => {
  it("refuses a body nested 5,000 levels with a 400, before anything recursive runs", async () => {
    const error = await refused(400, "POST", "/v1/responses", `{"model":"gpt-5-pro","input":[${nested(5000)}]}`);
    expect(error.message).toMatch(/deeper than 100 levels/);
    await refused(400, "POST", "/v1/responses", `{"model":"gpt-5-pro","input":[${nested(200_000)}]}`);
  });

  it("counts brackets inside strings as text, not nesting", async () => {
    const res = await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "[{".repeat(5000),
      background: true,
    });
    expect(res.status).toBe(202);
  });
});

describe("metadata keys named like JavaScript internals", () => {
  it("keeps constructor, toString and hasOwnProperty as data, in the reply and in the store", async () => {
    const metadata = { constructor: "a", toString: "b", hasOwnProperty: "c", valueOf: "d" };
    const res = await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      input: "hi",
      metadata,
      background: true,
    });
    expect(res.status).toBe(202);
    expect(res.body.metadata).toEqual(metadata);
    expect((await relay.call("GET", `/v1/responses/${res.body.id}`)).body.metadata).toEqual(metadata);
    const done = await relay.settle(res.body.id);
    expect(done.status).toBe("completed");
    expect(done.metadata).toEqual(metadata);
  });

  it("refuses __proto__ clearly (it cannot be kept as data) instead of dropping it", async () => {
    const error = await refused(
      400,
      "POST",
      "/v1/responses",
      '{"model":"gpt-5-pro","input":"hi","metadata":{"__proto__":"x","k":"v"}}',
    );
    expect(error.param).toBe("metadata.__proto__");
    await refused(400, "POST", "/v1/responses", '{"model":"gpt-5-pro","__proto__":{"model":"other"}}');
  });
});

describe("lengths counted in UTF-16 code units, as OpenAI counts them", () => {
  it("refuses a 33-emoji metadata key (66 units) and accepts 32 (64 units)", async () => {
    await refused(400, "POST", "/v1/responses", { model: "gpt-5-pro", metadata: { ["😀".repeat(33)]: "v" } });
    const ok = await relay.call("POST", "/v1/responses", {
      model: "gpt-5-pro",
      background: true,
      input: "hi",
      metadata: { ["😀".repeat(32)]: "v" },
    });
    expect(ok.status).toBe(202);
  });

  it("refuses a 257-emoji metadata value (514 units)", async () => {
    const error = await refused(400, "POST", "/v1/responses", {
      model: "gpt-5-pro",
      metadata: { k: "😀".repeat(257) },
    });
    expect(error.param).toBe("metadata.k");
  });

  it("quotes only the start of a huge bad key", async () => {
    const error = await refused(400, "POST", "/v1/responses", {
      model: "gpt-5-pro",
      metadata: { ["k".repeat(100_000)]: "v" },
    });
    expect(JSON.stringify(error).length).toBeLessThan(1000);
  });
});

describe("ids and cursors longer than DynamoDB keys allow", () => {
  const long = `resp_${"a".repeat(3000)}`;
  it.each([
    ["GET", `/v1/responses/${long}`],
    ["GET", `/v1/responses/${long}?stream=true`],
    ["POST", `/v1/responses/${long}/cancel`],
    ["GET", `/v1/responses/${long}/deliveries`],
    ["POST", `/v1/responses/${long}/deliveries/redeliver`],
    ["GET", `/v1/responses/${"x".repeat(3000)}`],
  ])("%s %# answers 404 without quoting the whole id", async (method, path) => {
    const error = await refused(404, method, path);
    expect(error.message.length).toBeLessThan(200);
  });

  it("refuses an after= cursor that is not a response id", async () => {
    for (const after of [long, "not-an-id", "resp_a/b"]) {
      const error = await refused(400, "GET", `/v1/responses?after=${encodeURIComponent(after)}`);
      expect(error.param).toBe("after");
    }
  });
});

describe("strict integers", () => {
  it.each(["1e1", "0x10", " 5", "5 ", "+5", "05", "5.0", "-1", "0", "101", ""])(
    "limit=%j is refused",
    async (limit) => {
      const error = await refused(400, "GET", `/v1/responses?limit=${encodeURIComponent(limit)}`);
      expect(error.param).toBe("limit");
    },
  );

  it("accepts a plain limit", async () => {
    expect((await relay.call("GET", "/v1/responses?limit=100")).status).toBe(200);
  });

  it.each(["1e1", "0x10", " 5", "-1"])("starting_after=%j is refused", async (cursor) => {
    const job = (await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", background: true })).body.id;
    const error = await refused(
      400,
      "GET",
      `/v1/responses/${job}?stream=true&starting_after=${encodeURIComponent(cursor)}`,
    );
    expect(error.param).toBe("starting_after");
  });
});

describe("Content-Type", () => {
  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"])(
    "%s gets 415 in OpenAI's shape",
    async (type) => {
      const error = await refused(415, "POST", "/v1/responses", { model: "gpt-5-pro" }, { "content-type": type });
      expect(error.type).toBe("invalid_request_error");
    },
  );

  it("accepts JSON with a charset, and a body with no declared type", async () => {
    const withCharset = await relay.call(
      "POST",
      "/v1/responses",
      { model: "gpt-5-pro", input: "hi", background: true },
      {
        "content-type": "application/json; charset=utf-8",
      },
    );
    expect(withCharset.status).toBe(202);
    const bare = await fetch(`${relay.url}/v1/responses`, {
      method: "POST",
      headers: { authorization: `Bearer ${relay.apiKey}` },
      body: new TextEncoder().encode(JSON.stringify({ model: "gpt-5-pro", input: "hi", background: true })),
    });
    expect(bare.status).toBe(202);
  });
});

describe("Idempotency-Key replays", () => {
  it("store nothing more: the body is kept once, however often it is replayed", async () => {
    const body = { model: "gpt-5-pro", input: "x".repeat(200_000), background: true };
    const headers = { "idempotency-key": `replay-${Date.now()}` };
    const first = await relay.call("POST", "/v1/responses", body, headers);
    expect(first.status).toBe(202);
    const items = await countItems(relay);
    for (let i = 0; i < 3; i++) {
      const again = await relay.call("POST", "/v1/responses", body, headers);
      expect(again.status).toBe(202);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(again.body.id).toBe(first.body.id);
    }
    expect(await countItems(relay)).toBe(items);
    // and a different body under the same key is refused without storing it either
    await refused(422, "POST", "/v1/responses", { ...body, input: "other" }, headers);
  });
});

describe("log lines", () => {
  it("carry at most the start of a huge string", () => {
    // What jsonLog hands to the Powertools Logger: every field redacted and bounded.
    const fields = redact({ path: `/v1/responses/${"a".repeat(1_000_000)}` }) as { path: string };
    expect(fields.path.length).toBeLessThan(MAX_LOG_STRING + 200);
    expect(fields.path).toMatch(/more characters\)$/);
  });
});
