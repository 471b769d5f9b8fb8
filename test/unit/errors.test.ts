import { describe, expect, it } from "vitest";
import * as errors from "#shared/errors.ts";

describe("the relay's errors", () => {
  type ErrorClass = new (...args: unknown[]) => Error;
  const classes = (Object.entries(errors) as [string, unknown][]).filter(
    (entry): entry is [string, ErrorClass] =>
      typeof entry[1] === "function" && (entry[1] as { prototype?: unknown }).prototype instanceof Error,
  );

  it("name themselves, so a minified bundle (class names mangled, no keepNames) still logs and answers them", () => {
    expect(classes.length).toBeGreaterThan(15);
    for (const [exported, ErrorClass] of classes) {
      // What esbuild's minifier does to a class without keepNames: its own name is a letter.
      const Minified = class extends ErrorClass {};
      Object.defineProperty(Minified, "name", { value: "e" });
      const error = Reflect.construct(
        ErrorClass,
        ["m", { status: 400, jobId: "j", code: "c", retryAfterSeconds: 1 }],
        Minified,
      );
      expect(error.name, exported).toBe(exported);
    }
  });
});
