/**
 * Every Response the simulator sends, at every status and for every kind of answer, carries the fields
 * OpenAI's schema requires, and compiles against the official SDK's `Response` type: captured replies are
 * written into a TypeScript file and checked by the compiler, so the SDK's types are the oracle.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimHarness, startHarness } from "./helpers.ts";

/** `required` of `Response` in OpenAI's OpenAPI document. */
const REQUIRED = [
  "created_at",
  "error",
  "id",
  "incomplete_details",
  "instructions",
  "metadata",
  "model",
  "object",
  "output",
  "parallel_tool_calls",
  "temperature",
  "tool_choice",
  "tools",
  "top_p",
];

const tool = {
  type: "function",
  name: "lookup",
  parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
};

async function raw(h: SimHarness, path: string, body?: object): Promise<Record<string, unknown>> {
  const res = await fetch(`${h.sim.url}${path}`, {
    method: body ? "POST" : "GET",
    headers: { "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return (await res.json()) as Record<string, unknown>;
}

/**
 * Compiles each set of captured objects (one file per set, one compiler run for all: it takes seconds)
 * against the SDK's types; returns the compiler's complaints per set.
 */
function typeErrors(sets: Record<string, unknown>[][]): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "sim-shape-"));
  try {
    const typesPath = createRequire(import.meta.url)
      .resolve("openai/resources/responses/responses")
      .replace(/\.js$/, ".d.ts");
    const header =
      `import type { Response, ResponseUsage } from ${JSON.stringify(typesPath)};\n` +
      // output_text is added by the SDK, not sent; `store` is on the wire but not in the SDK's type. OpenAI
      // sends null for these four (usage until the end: a real capture shows it), the SDK types say absent.
      `type Nullable = "output_text" | "usage" | "user" | "safety_identifier" | "prompt_cache_key";\n` +
      `type Wire = Omit<Response, Nullable> & { usage?: ResponseUsage | null; user?: string | null;\n` +
      `  safety_identifier?: string | null; prompt_cache_key?: string | null; store?: boolean; [key: string]: unknown };\n`;
    const files = sets.map((set, i) => {
      const file = join(dir, `captured${i}.ts`);
      writeFileSync(
        file,
        `${header}export const captured: Wire[] = [\n${set.map((c) => `  ${JSON.stringify(c)},`).join("\n")}\n];\n`,
      );
      return file;
    });
    const program = ts.createProgram(files, {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    });
    return files.map((file) =>
      ts
        .getPreEmitDiagnostics(program, program.getSourceFile(file))
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("simulator: the Response object at every status", () => {
  let h: SimHarness;
  const captured: Record<string, unknown>[] = [];
  beforeAll(async () => {
    h = await startHarness({ behaviour: { queuedMs: 1000, runMs: 1000, outputBytes: 64 } });
    const bg = { model: "gpt-4.1", input: "shape", background: true };
    const outcomes = ["completed", "failed", "incomplete"].map((o) => ({ ...bg, metadata: { sim_outcome: o } }));
    const created = [
      await raw(h, "/responses", bg),
      ...(await Promise.all(outcomes.map((o) => raw(h, "/responses", o)))),
      await raw(h, "/responses", { ...bg, tools: [tool], tool_choice: "required", temperature: 0.2, top_p: 0.5 }),
      await raw(h, "/responses", {
        ...bg,
        text: {
          format: {
            type: "json_schema",
            name: "s",
            schema: { type: "object", properties: { a: { type: "integer" } }, required: ["a"] },
            strict: true,
          },
        },
      }),
      await raw(h, "/responses", { ...bg, model: "o3", include: ["reasoning.encrypted_content"] }),
      await raw(h, "/responses", { ...bg, metadata: { sim_outcome: "stuck_queued" } }),
    ];
    captured.push(...created); // queued
    h.clock.advance(1500);
    for (const c of created) captured.push(await raw(h, `/responses/${c.id}`)); // in_progress
    captured.push(await raw(h, `/responses/${created[created.length - 1]!.id}/cancel`, {})); // cancelled
    h.clock.advance(1000);
    for (const c of created) captured.push(await raw(h, `/responses/${c.id}`)); // every end
    const conversation = await raw(h, "/conversations", {});
    captured.push(await raw(h, "/responses", { model: "gpt-4.1", input: "sync", conversation: conversation.id }));
  });
  afterAll(() => h.sim.close());

  it("reaches all six statuses, with every kind of output item", () => {
    const types = new Set(captured.flatMap((c) => (c.output as Array<{ type: string }>).map((item) => item.type)));
    expect(types).toEqual(new Set(["message", "function_call", "reasoning"]));
    expect(new Set(captured.map((c) => c.status))).toEqual(
      new Set(["queued", "in_progress", "completed", "failed", "incomplete", "cancelled"]),
    );
  });

  it("carries every field OpenAI requires, echoing the request", () => {
    for (const response of captured) {
      for (const field of REQUIRED) expect(response, `${response.status} lacks ${field}`).toHaveProperty(field);
      expect(response).toMatchObject({ object: "response", model: expect.stringMatching(/^(gpt-4\.1|o3)$/) });
      expect(response).toHaveProperty("store", true);
    }
    const tooled = captured.find((c) => Array.isArray(c.tools) && c.tools.length > 0);
    expect(tooled).toMatchObject({ temperature: 0.2, top_p: 0.5, tool_choice: "required", background: true });
    expect(captured[captured.length - 1]).toMatchObject({
      background: false,
      conversation: { id: expect.any(String) },
    });
  });

  it("type-checks against the official SDK's Response", () => {
    // The second set proves the oracle can fail: a status outside OpenAI's six is rejected.
    const [errors, expired] = typeErrors([captured, [{ ...captured[0], status: "expired" }]]);
    expect(errors).toEqual([]);
    expect(expired?.join("\n")).toMatch(/expired/);
  }, 60_000);
});
