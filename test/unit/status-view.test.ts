/**
 * The pure parts of the status read (docs/decisions/0013-status-read-path.md): the request fields a
 * Response shows, the key layout one range query relies on, and the per-process view cache.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EMPTY_JOB_FIELDS, type Job } from "#shared/domain/job.ts";
import { shownRequest, toResponseObject } from "#shared/domain/response-view.ts";
import {
  DELIVERY_PREFIX,
  EVENT_BLOB,
  EVENT_END,
  eventSk,
  JOB_SK,
  OUTPUT_BLOB,
  REQUEST_BLOB,
  VIEW_RANGE_END,
  deliverySk,
} from "#shared/store/keys.ts";
import { chunkSortKey } from "#shared/store/blob-chunks.ts";
import { ViewCache } from "#shared/store/view-cache.ts";

const job = {
  ...EMPTY_JOB_FIELDS,
  id: "resp_1",
  tenantId: "ten_1",
  status: "completed",
  model: "gpt-5-pro",
  createdAt: 1_800_000_000_000,
  updatedAt: 1_800_000_000_000,
  completedAt: 1_800_000_060_000,
  deadlineAt: 1_800_003_600_000,
  metadata: {},
  version: 3,
} as unknown as Job;

describe("shownRequest", () => {
  it("keeps every field toResponseObject reads from the request", () => {
    const read = new Set<string>();
    const spy = new Proxy({} as Record<string, unknown>, {
      get: (target, key) => {
        if (typeof key === "string") read.add(key);
        return Reflect.get(target, key);
      },
    });
    toResponseObject(job, null, spy, "http://x");
    toResponseObject(job, { output: [] }, spy, "http://x");
    expect(read.size).toBeGreaterThan(10);
    for (const key of read) expect(Object.keys(shownRequest({ [key]: 1 })), key).toEqual([key]);
  });

  it("makes the same Response as the whole request, whatever the request holds", () => {
    const value = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.string(),
      fc.dictionary(fc.string(), fc.string()),
    );
    const known = [
      "instructions",
      "reasoning",
      "text",
      "tools",
      "tool_choice",
      "conversation",
      "background",
      "store",
      "previous_response_id",
      "temperature",
      "input",
      "model",
    ];
    const request = fc.dictionary(fc.oneof(fc.constantFrom(...known), fc.string()), value);
    fc.assert(
      fc.property(request, (r) => {
        expect(toResponseObject(job, null, shownRequest(r), "http://x")).toEqual(
          toResponseObject(job, null, r, "http://x"),
        );
      }),
    );
    // What it leaves out is what can be large: the input.
    expect(shownRequest({ input: "x".repeat(1000), model: "m", instructions: "i" })).toEqual({ instructions: "i" });
  });
});

describe("the job partition's layout", () => {
  it("puts the job item, its output and its request chunks in one range, and nothing else of the job", () => {
    const ref = { sha256: "ab".repeat(32) };
    const inRange = [JOB_SK, chunkSortKey(OUTPUT_BLOB, ref, 0), chunkSortKey(OUTPUT_BLOB, ref, 9999)];
    const requestChunks = [chunkSortKey(REQUEST_BLOB, ref, 0), chunkSortKey(REQUEST_BLOB, ref, 9999)];
    // The job item first: the query's first item tells whether the job exists.
    expect([...inRange, ...requestChunks].sort()[0]).toBe(JOB_SK);
    const others = [deliverySk(0), deliverySk(99_999), eventSk(0), eventSk(9_999_999_999), EVENT_END];
    others.push(chunkSortKey(EVENT_BLOB, ref, 0), `${DELIVERY_PREFIX}~`);
    const within = (sk: string, end: string) => sk >= JOB_SK && sk <= end;
    for (const sk of inRange) expect(within(sk, VIEW_RANGE_END.output), sk).toBe(true);
    for (const sk of [...inRange, ...requestChunks]) expect(within(sk, VIEW_RANGE_END.request), sk).toBe(true);
    for (const sk of requestChunks) expect(within(sk, VIEW_RANGE_END.output), sk).toBe(false);
    for (const sk of others) expect(within(sk, VIEW_RANGE_END.request), sk).toBe(false);
  });
});

describe("ViewCache", () => {
  it("serves a value only for the hash it was decoded from", () => {
    const cache = new ViewCache();
    cache.set("resp_1", "output", "aaa", { output: [1] }, 100);
    expect(cache.get("resp_1", "output", "aaa")).toEqual({ output: [1] });
    expect(cache.get("resp_1", "output", "bbb")).toBeUndefined();
    expect(cache.get("resp_1", "request", "aaa")).toBeUndefined();
    expect(cache.get("resp_2", "output", "aaa")).toBeUndefined();
    expect(cache.has("resp_1", "output")).toBe(true);
    expect(cache.has("resp_1", "request")).toBe(false);
    // A new hash for the same job and kind replaces the old one.
    cache.set("resp_1", "output", "bbb", { output: [2] }, 100);
    expect(cache.get("resp_1", "output", "aaa")).toBeUndefined();
    expect(cache.bytes).toBe(100);
  });

  it("keeps within its bytes, least recently used out first, and skips values over the entry bound", () => {
    const cache = new ViewCache({ maxBytes: 300, maxEntryBytes: 150 });
    for (const id of ["a", "b", "c"]) cache.set(id, "output", id, { id }, 100);
    cache.get("a", "output", "a");
    cache.set("d", "output", "d", { id: "d" }, 100);
    expect(cache.bytes).toBe(300);
    expect(cache.has("b", "output")).toBe(false);
    expect(["a", "c", "d"].every((id) => cache.has(id, "output"))).toBe(true);
    cache.set("e", "output", "e", { id: "e" }, 151);
    expect(cache.has("e", "output")).toBe(false);
    expect(cache.bytes).toBe(300);
  });

  it("hands out frozen values: no reader can change what the next one sees", () => {
    const cache = new ViewCache();
    cache.set("resp_1", "output", "aaa", { output: [{ content: [{ text: "hi" }] }] }, 10);
    const value = cache.get("resp_1", "output", "aaa") as { output: { content: { text: string }[] }[] };
    expect(() => {
      value.output[0]!.content[0]!.text = "changed";
    }).toThrow(TypeError);
    expect(Object.isFrozen(value.output)).toBe(true);
  });
});
