import { describe, expect, it } from "vitest";
import * as s from "#shared/schema.ts";

const issuesOf = (schema: s.Schema<unknown>, value: unknown) => {
  const parsed = s.safeParse(schema, value);
  if (parsed.ok) throw new Error("expected issues");
  return parsed.issues.map((i) => ({ path: i.path.join("."), message: i.message, missing: i.missing }));
};

describe("the schema kit", () => {
  const doc = s.object(
    {
      name: s.string({ min: 1 }),
      port: s.withDefault(s.number({ int: true, min: 1, max: 65_535 }), 443),
      tags: s.withDefault(s.array(s.oneOf(["a", "b"])), []),
    },
    "strict",
  );

  it("fills defaults, and never hands out the same default object twice", () => {
    const one = s.safeParse(doc, { name: "x" });
    const two = s.safeParse(doc, { name: "y" });
    expect(one).toEqual({ ok: true, value: { name: "x", port: 443, tags: [] } });
    if (!one.ok || !two.ok) throw new Error("expected both to parse");
    expect(one.value.tags).not.toBe(two.value.tags);
  });

  it("reports every field at fault with its path, absent fields as missing", () => {
    expect(issuesOf(doc, { port: 1.5, tags: ["c"] })).toEqual([
      { path: "name", message: "Invalid input: expected string, received undefined", missing: true },
      { path: "port", message: "Invalid input: expected int, received number", missing: false },
      { path: "tags.0", message: 'Invalid option: expected one of "a"|"b"', missing: false },
    ]);
  });

  it("never quotes a value, and quotes at most 64 characters of an unknown key", () => {
    const secret = "https://user:s3cret@example.com";
    const messages = issuesOf(doc, { name: 5, port: secret, [`${"k".repeat(100)}`]: secret }).map((i) => i.message);
    expect(messages.join(" ")).not.toContain("s3cret");
    expect(messages.at(-1)).toBe(`Unrecognized key: "${"k".repeat(64)}…"`);
  });

  it("tells arrays, null and non-finite numbers from objects and numbers", () => {
    const loose = s.object({ n: s.optional(s.number()) }, "passthrough");
    expect(issuesOf(loose, [])[0]?.message).toBe("Invalid input: expected object, received array");
    expect(issuesOf(loose, null)[0]?.message).toBe("Invalid input: expected object, received null");
    expect(issuesOf(loose, { n: Number.POSITIVE_INFINITY })[0]?.message).toBe(
      "Invalid input: expected number, received Infinity",
    );
    expect(s.safeParse(loose, { n: 1, other: { kept: true } })).toEqual({
      ok: true,
      value: { n: 1, other: { kept: true } },
    });
  });

  it("runs a refinement only on a value that passed its schema", () => {
    const even = s.refine(s.number(), (n) => n % 2 === 0, "must be even");
    expect(issuesOf(even, "2").map((i) => i.message)).toEqual(["Invalid input: expected number, received string"]);
    expect(issuesOf(even, 3).map((i) => i.message)).toEqual(["must be even"]);
  });
});
