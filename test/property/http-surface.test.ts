import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRelay, type RelayHarness } from "#test/support/relay.ts";
import { partitionKeys } from "#test/support/table-count.ts";

/**
 * Generated requests over the whole caller surface (submit, status, list, stream, cancel,
 * deliveries) through real HTTP: whatever arrives, the relay never answers 5xx, every 4xx is in
 * OpenAI's error shape, and a 4xx the relay decides by itself (no upstream create) stores nothing.
 * Reproduce a failure with FC_SEED=<seed printed in the failure> (and FC_PATH for the shrunk case).
 */

// 300 random requests per `npm test` (a fresh seed each run, so runs add up); FC_RUNS=5000 for a deep one.
const RUNS = Number(process.env.FC_RUNS ?? 300);
const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() ^ (Math.random() * 2 ** 31);

let relay: RelayHarness;
const known: string[] = [];

beforeAll(async () => {
  // No DNS: every webhook host resolves to loopback, and the generated URLs name a closed port.
  // Jobs end at once (a blocking create then answers in milliseconds, not at its wait limit).
  relay = await startRelay({
    resolve: async () => ["127.0.0.1"],
    behaviour: { queuedMs: 0, runMs: 0 },
    localWaitMs: 20_000,
  });
  for (let i = 0; i < 3; i++)
    known.push(
      (await relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: `j${i}`, background: true })).body.id,
    );
  await relay.settle(known[0]!);
  await relay.call("POST", `/v1/responses/${known[1]}/cancel`);
});
afterAll(() => relay?.close());

interface GeneratedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Header values fetch can send: visible ASCII and spaces, no CR/LF. */
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 40,
});
const oddText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "prototype",
    "relay_job_id",
    "😀".repeat(33),
    "😀".repeat(32),
    "",
  ),
  fc.integer({ min: 60, max: 3000 }).map((n) => "k".repeat(n)),
);
const numberish = fc.oneof(
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.constantFrom(
    "1e1",
    "0x10",
    " 5",
    "5 ",
    "+5",
    "05",
    "5.0",
    "-0",
    "",
    "NaN",
    "Infinity",
    "9".repeat(30),
    "%20",
    "1,2",
  ),
  headerValue,
);
const jobId = fc.oneof(
  fc.constantFrom(...["known0", "known1", "known2"]).map((k) => known[Number(k.slice(-1))]!),
  fc.string({ maxLength: 20 }).map((s) => `resp_${s}`),
  fc.integer({ min: 2000, max: 5000 }).map((n) => `resp_${"a".repeat(n)}`),
  oddText,
  fc.constantFrom("resp_", "resp_%zz", "%", "..", "resp_0000000000000000000000000000000000000000"),
);
const encodedId = jobId.chain((id) =>
  fc.constantFrom(encodeURIComponent(id || "x"), id.replace(/[/?#\s]/g, "") || "x"),
);

const metadata = fc.dictionary(oddText, fc.oneof(oddText, fc.jsonValue({ maxDepth: 1 })), { maxKeys: 18 });
const webhook = fc
  .oneof(
    fc.constantFrom(
      "http://127.0.0.1:1/hook",
      "http://localhost:1/h",
      "https://x.invalid:1/h",
      "ftp://127.0.0.1:1/",
      "nope",
    ),
    fc.string({ maxLength: 20 }),
  )
  .chain((url) =>
    fc.record(
      {
        url: fc.oneof(fc.constant(url), fc.integer()),
        events: fc.option(
          fc.array(fc.oneof(fc.constantFrom("response.completed", "response.failed"), fc.string({ maxLength: 12 })), {
            maxLength: 3,
          }),
        ),
      },
      { requiredKeys: ["url"] },
    ),
  );
const nestedText = fc
  .integer({ min: 1, max: 6000 })
  .map((d) => `{"model":"gpt-5-pro","input":${"[".repeat(d)}1${"]".repeat(d)}}`);

const submitBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record(
        {
          model: fc.oneof(fc.constant("gpt-5-pro"), fc.constant("gpt-5-mini"), oddText, fc.integer()),
          input: fc.oneof(
            fc.constant("hi"),
            oddText,
            fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }),
            fc.integer(),
          ),
          metadata: fc.oneof(metadata, fc.constant(null), fc.jsonValue({ maxDepth: 2 })),
          max_output_tokens: fc.oneof(fc.integer({ min: -10, max: 100_000 }), fc.double(), oddText, fc.constant(null)),
          stream: fc.oneof(fc.boolean(), oddText),
          background: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.boolean(), fc.integer()),
          webhook,
          extra: fc.jsonValue({ maxDepth: 3 }),
        },
        { requiredKeys: [] },
      )
      .map((body) => JSON.stringify(body)),
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 1, arbitrary: nestedText },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"model":"gpt-5-pro","input":"hi","metadata":{"__proto__":"x"}}',
      '{"__proto__":{}}',
      '{"a":1',
      "null",
      "[]",
      '""',
      "\u0000",
    ),
  },
);

const extraHeaders = fc.dictionary(
  fc.constantFrom("content-type", "idempotency-key", "last-event-id", "accept", "accept-encoding", "x-anything"),
  fc.oneof(
    headerValue,
    fc.constantFrom(
      "application/json",
      "text/plain",
      "application/json; charset=utf-8",
      "application/x-www-form-urlencoded",
      "*/*",
      "gzip",
    ),
  ),
  { maxKeys: 4 },
);

const query = (pairs: [string, string][]) =>
  pairs.length ? `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}` : "";
const queryPairs = (names: string[]) =>
  fc.array(fc.tuple(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })), fc.oneof(numberish, jobId)), {
    maxLength: 4,
  });

const request: fc.Arbitrary<GeneratedRequest> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ body: submitBody, headers: extraHeaders }).map(({ body, headers }) => ({
      method: "POST",
      path: "/v1/responses",
      headers: { "content-type": "application/json", ...headers },
      body,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ id: encodedId, headers: extraHeaders })
      .map(({ id, headers }) => ({ method: "GET", path: `/v1/responses/${id}`, headers })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ id: encodedId, q: queryPairs(["starting_after", "stream"]), headers: extraHeaders })
      .map(({ id, q, headers }) => ({
        method: "GET",
        path: `/v1/responses/${id}${query([["stream", "true"], ...q])}`,
        headers,
      })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ q: queryPairs(["limit", "after", "status"]), headers: extraHeaders })
      .map(({ q, headers }) => ({ method: "GET", path: `/v1/responses${query(q)}`, headers })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        id: encodedId,
        body: fc.option(submitBody),
        headers: extraHeaders,
        tail: fc.constantFrom("/cancel", "/deliveries", "/deliveries/redeliver"),
      })
      .map(({ id, body, headers, tail }) => ({
        method: tail === "/deliveries" ? "GET" : "POST",
        path: `/v1/responses/${id}${tail}`,
        headers,
        ...(body !== null && tail !== "/deliveries" ? { body } : {}),
      })),
  },
);

/** Sends one request; an event stream is only opened (its status and headers read), then dropped. */
async function send(req: GeneratedRequest) {
  const controller = new AbortController();
  const response = await fetch(`${relay.url}${req.path}`, {
    method: req.method,
    headers: { authorization: `Bearer ${relay.apiKey}`, ...req.headers },
    body: req.body,
    signal: controller.signal,
  });
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    controller.abort();
    return { status: response.status, body: null };
  }
  const text = await response.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body };
}

describe("the HTTP surface under generated input", () => {
  it(`never answers 5xx, and stores nothing when it refuses (${RUNS} runs)`, { timeout: 120_000 }, async () => {
    const tally: Record<string, number> = {};
    let previous: Set<string> | undefined;
    try {
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          // The table as the previous run left it (one scan per run keeps thousands of runs fast).
          const before = (previous ??= await partitionKeys(relay));
          const creates = relay.sim.stats().ops.create;
          const res = await send(req);
          tally[res.status] = (tally[res.status] ?? 0) + 1;
          expect(
            res.status,
            `${req.method} ${req.path.slice(0, 200)} → ${JSON.stringify(res.body).slice(0, 300)}`,
          ).toBeLessThan(500);
          previous = await partitionKeys(relay);
          if (res.status < 400) return;
          expect(Object.keys(res.body)).toEqual(["error"]);
          expect(Object.keys(res.body.error).sort()).toEqual(["code", "message", "param", "type"]);
          // A create the upstream refused is answered with the upstream's 4xx and keeps a failed
          // job on record (the relay's behaviour today); every other refusal writes nothing.
          if (relay.sim.stats().ops.create !== creates) return;
          // Counted as new partitions (a job, a claim, orphaned request chunks). A stream of a known
          // job dropped by an earlier run may still take its lease or append to its job meanwhile.
          const streamLease = (pk: string) => pk.startsWith("LEASE#stream-") && before.has(`JOB#${pk.slice(13)}`);
          const added = [...previous].filter((pk) => !before.has(pk) && !streamLease(pk));
          expect(added.join(", "), "partitions written by a refused request").toBe("");
        }),
        { numRuns: RUNS, seed, endOnFailure: true, includeErrorInReport: true },
      );
    } catch (error) {
      throw new Error(`property failed with FC_SEED=${seed}\n${(error as Error).message}`);
    }
    // The generators reach every kind of answer, not only the first refusal.
    expect(Object.keys(tally)).toEqual(expect.arrayContaining(["200", "400", "404"]));
    console.log(`http-surface property: seed ${seed}, answers ${JSON.stringify(tally)}`);
  });
});
