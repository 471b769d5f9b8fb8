import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RelayHarness } from "#test/support/relay.ts";
import { startReceiver, type Receiver } from "#test/support/receiver.ts";
import { driveToEnd, openStream } from "#test/streaming/support.ts";
import { driven, startClientRelay } from "./support.ts";

/**
 * The official SDK's TypeScript types as the schema oracle. Every kind of reply the relay emits is
 * captured raw (not through the SDK, which adds fields of its own), written into a generated .ts
 * file as `const … = <the JSON> satisfies <the SDK's type>`, and compiled with the repo's compiler
 * options: any missing required field, value outside an enum or field OpenAI does not have is a
 * diagnostic. Only the relay's documented extra field, `relay`, is removed from each Response
 * before the check (nothing else is touched). Where OpenAI's own wire differs from the SDK's types
 * the oracle follows the wire, each case named in the prelude below: no `output_text` (the SDKs
 * compute it), null in four optional fields, `store` and `max_tool_calls`, `obfuscation` on delta events.
 */
const ROOT = process.cwd();
/** Under node_modules so `import "openai"` resolves the repo's own copy; never committed. */
const GENERATED = join(ROOT, "node_modules", ".cache", "responses-relay", "conformance-cases.ts");

type Oracle = "Response" | "ResponseList" | "ItemList" | "StreamEvent" | "Webhook" | "ErrorBody" | "InputTokens";
interface Case {
  name: string;
  oracle: Oracle;
  value: unknown;
}

let relay: RelayHarness;
let receiver: Receiver;
const cases: Case[] = [];
const add = (name: string, oracle: Oracle, value: unknown) => cases.push({ name, oracle, value });

beforeAll(async () => {
  relay = await startClientRelay();
  const secret = (await relay.deps.tenants.getTenant(relay.tenant.id))!.webhookSecrets[0]!;
  receiver = await startReceiver(secret);
});
afterAll(async () => {
  await receiver.close();
  await relay.close();
});

const submit = (body: Record<string, unknown>) =>
  relay.call("POST", "/v1/responses", {
    model: "gpt-5-pro",
    background: true,
    webhook: { url: receiver.url },
    ...body,
  });
const get = async (id: string) => (await relay.call("GET", `/v1/responses/${id}`)).body;
const until = (id: string, statuses: string[], stepMs = 1000) =>
  relay.runUntil(async () => statuses.includes((await get(id)).status), { stepMs, maxSteps: 400 });

async function captureStream(name: string, path: string, options: Parameters<typeof openStream>[2] = {}) {
  const read = await openStream(relay, path, options);
  await driveToEnd(relay, read, { stepMs: 250 });
  expect(read.events.length).toBeGreaterThan(0);
  for (const event of read.events) add(`${name}: ${event.type} #${event.sequence_number}`, "StreamEvent", event);
  return read;
}

describe("every reply the relay emits passes the official SDK's types", () => {
  it("captures Responses at every status, lists, streams, errors and webhooks, and they compile", async () => {
    // queued, in_progress, completed
    const normal = await submit({ input: "conformance: a normal job", metadata: { case: "normal" } });
    add("queued: the background create's 202 reply", "Response", normal.body);
    await until(normal.body.id, ["in_progress"], 250);
    add("in_progress: status while running", "Response", await get(normal.body.id));
    await until(normal.body.id, ["completed"]);
    add("completed: status", "Response", await get(normal.body.id));

    for (const outcome of ["failed", "incomplete"]) {
      const job = await submit({ input: `conformance: ${outcome}`, metadata: { sim_outcome: outcome } });
      await until(job.body.id, [outcome]);
      add(`${outcome}: status`, "Response", await get(job.body.id));
    }

    const long = await submit({ input: "conformance: cancelled", metadata: { sim_run_ms: "600000" } });
    await until(long.body.id, ["in_progress"], 250);
    add(
      "cancelled: the cancel reply",
      "Response",
      (await relay.call("POST", `/v1/responses/${long.body.id}/cancel`)).body,
    );
    add("cancelled: status", "Response", await get(long.body.id));

    const stuck = await submit({ input: "conformance: relay-ended", metadata: { sim_outcome: "stuck_queued" } });
    await relay.runUntil(async () => !["queued", "in_progress"].includes((await get(stuck.body.id)).status), {
      stepMs: 30_000,
      maxSteps: 200,
    });
    add("relay-ended (queued too long): status", "Response", await get(stuck.body.id));

    relay.sim.injectFault({ op: "create", status: 503, times: 1 });
    const unsent = await submit({ input: "conformance: never reached the upstream" });
    add("never reached the upstream: the 202 reply", "Response", unsent.body);
    add("never reached the upstream: status", "Response", await get(unsent.body.id));
    add(
      "never reached the upstream: the cancel reply",
      "Response",
      (await relay.call("POST", `/v1/responses/${unsent.body.id}/cancel`)).body,
    );

    const blocking = await driven(
      relay,
      relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "conformance: blocking create" }),
    );
    add(`blocking create reply (HTTP ${blocking.status})`, "Response", blocking.body);

    const big = await submit({ input: "conformance: thin webhook", metadata: { sim_output_bytes: "300000" } });
    await until(big.body.id, ["completed"]);

    // lists
    // Each entry is checked as a Response of its own: one literal array of differently shaped
    // objects would make TypeScript widen their metadata to optional keys, which no reply has.
    const list = (await relay.call("GET", "/v1/responses?limit=100")).body;
    add("list of jobs (the page)", "ResponseList", { ...list, data: [] });
    for (const [i, entry] of (list.data as unknown[]).entries()) add(`list of jobs, entry ${i}`, "Response", entry);
    add("input items", "ItemList", (await relay.call("GET", `/v1/responses/${normal.body.id}/input_items`)).body);
    add(
      "input items, derived from the stored request",
      "ItemList",
      (await relay.call("GET", `/v1/responses/${unsent.body.id}/input_items`)).body,
    );

    // streams: a finished job replayed, a cancelled job, a streaming create
    await captureStream("replay of a completed job", `/v1/responses/${normal.body.id}?stream=true`);
    await captureStream("replay of a cancelled job", `/v1/responses/${long.body.id}?stream=true`);
    await captureStream("streaming create", "/v1/responses", {
      method: "POST",
      body: { model: "gpt-5-pro", input: "conformance: streamed", stream: true },
    });

    // errors
    const errors: [string, Promise<{ status: number; body: unknown }>][] = [
      ["unknown id", relay.call("GET", "/v1/responses/resp_doesnotexist")],
      ["bad key", relay.call("GET", "/v1/responses/resp_x", undefined, {}, "rr_wrong-key-000000")],
      [
        "invalid parameter",
        relay.call("POST", "/v1/responses", { model: "gpt-5-pro", input: "x", max_output_tokens: 3 }),
      ],
      ["invalid JSON", relay.call("POST", "/v1/responses", "{not json")],
      ["unknown URL", relay.call("GET", "/v1/nothing-here")],
      ["bad input_items limit", relay.call("GET", `/v1/responses/${normal.body.id}/input_items?limit=0`)],
      [
        "unknown previous_response_id",
        relay.call("POST", "/v1/responses/input_tokens", { model: "gpt-5-pro", previous_response_id: "resp_nope" }),
      ],
    ];
    for (const [name, call] of errors) {
      const { status, body } = await call;
      expect(status, name).toBeGreaterThanOrEqual(400);
      add(`error: ${name} (HTTP ${status})`, "ErrorBody", body);
    }
    const count = await relay.call("POST", "/v1/responses/input_tokens", { model: "gpt-5-pro", input: "count me" });
    add(`input token count (HTTP ${count.status})`, "InputTokens", count.body);

    // webhooks: every job above asked for one
    await relay.runUntil(() => receiver.accepted().length >= 7, { stepMs: 5_000, maxSteps: 200 });
    for (const delivery of receiver.accepted()) {
      const body = JSON.parse(delivery.body);
      add(`webhook ${body.type} for ${body.data.status}`, "Webhook", body);
      // An inlined Response is a whole Response; a thin one (relay.output_omitted) is not meant to be.
      if (!body.data.relay?.output_omitted) add(`webhook ${body.type}: its data`, "Response", body.data);
    }

    const diagnostics = compileCases(cases);
    // Every diagnostic in full (an assertion message would be truncated).
    if (diagnostics.length) console.error(diagnostics.join("\n\n"));
    expect(diagnostics, `${diagnostics.length} type errors; generated file: ${GENERATED}`).toEqual([]);
  }, 240_000);
});

/** Removes the relay's own block from every Response object in `value`, and nothing else. */
function withoutRelay(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutRelay);
  if (!value || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const isResponse = (value as { object?: unknown }).object === "response";
  return Object.fromEntries(
    entries.filter(([key]) => !(isResponse && key === "relay")).map(([k, v]) => [k, withoutRelay(v)]),
  );
}

const PRELUDE = `import type OpenAI from "openai";
import type { UnwrapWebhookEvent } from "openai/resources/webhooks";

/**
 * Optional fields OpenAI's own replies carry as null (usage until a response ends, the identifiers
 * when unset) where the SDK's types only know absent-or-set: null is allowed for exactly these.
 */
type WireNulls = "usage" | "user" | "prompt_cache_key" | "safety_identifier";
/**
 * A Response as it travels: the SDKs add output_text themselves; OpenAI's schema has store and
 * max_tool_calls on the Response too, which the SDK's type lists only on the create params.
 */
type Response = Omit<OpenAI.Responses.Response, "output_text" | WireNulls> & {
  [K in WireNulls]?: OpenAI.Responses.Response[K] | null;
} & { store?: boolean | null; max_tool_calls?: number | null };
/**
 * Stream events, each carrying a wire Response where the SDK's type has one. Delta events carry
 * OpenAI's \`obfuscation\` padding unless the caller turns it off; the SDK's types leave it out.
 */
type StreamEvent = OpenAI.Responses.ResponseStreamEvent extends infer E
  ? E extends { response: OpenAI.Responses.Response }
    ? Omit<E, "response"> & { response: Response }
    : E extends { delta: unknown }
      ? E & { obfuscation?: string }
      : E
  : never;
/** The SDK's webhook events; for response events the relay inlines (part of) the Response in data. */
type Webhook = UnwrapWebhookEvent & { data: Partial<Response> };
type ErrorBody = { error: OpenAI.ErrorObject };
type ItemList = OpenAI.Responses.ResponseItemList;
type InputTokens = OpenAI.Responses.InputTokenCountResponse;
/** OpenAI has no list-responses endpoint: the relay's list is OpenAI's list shape of Responses. */
type ResponseList = { object: "list"; data: Response[]; first_id: string | null; last_id: string | null; has_more: boolean };
`;

/** Writes the cases as typed constants and compiles them; returns readable diagnostics. */
function compileCases(all: Case[]): string[] {
  const lines = [PRELUDE];
  all.forEach((c, i) => {
    lines.push(`// ${c.name.replace(/\n/g, " ")}`);
    lines.push(`export const case${i} = ${JSON.stringify(withoutRelay(c.value), null, 2)} satisfies ${c.oracle};`);
    // The excess-property error above stops TS at the first field; assigned again as a plain
    // value, the same object reports missing required fields and wrong types too.
    lines.push(`export const case${i}Fields: ${c.oracle} = case${i} as typeof case${i};`);
  });
  mkdirSync(dirname(GENERATED), { recursive: true });
  writeFileSync(GENERATED, lines.join("\n"));

  const configPath = join(ROOT, "tsconfig.json");
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const program = ts.createProgram([GENERATED], { ...parsed.options, noEmit: true });
  const source = program.getSourceFile(GENERATED)!;
  const text = source.getFullText().split("\n");
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    // The case's comment line is the nearest "// " line above the error.
    let at = line;
    while (at > 0 && !text[at]!.startsWith("// ")) at--;
    return `${text[at]!.slice(3)} | line ${line + 1}: ${text[line]!.trim()}\n  ${message}`;
  });
}
