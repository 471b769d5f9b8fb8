import { zodTextFormat } from "openai/helpers/zod";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { caught, type SimHarness, startHarness } from "./helpers.ts";

const Report = z.object({
  title: z.string(),
  score: z.number(),
  pages: z.number().int().min(1).max(500),
  published: z.boolean(),
  tags: z.array(z.string()),
  status: z.enum(["draft", "final"]),
  author: z.object({ name: z.string(), email: z.string().nullable() }),
  sections: z.array(z.object({ heading: z.string(), words: z.number().int() })),
});

describe("simulator: structured outputs", () => {
  let h: SimHarness;
  beforeEach(async () => {
    h = await startHarness({ behaviour: { queuedMs: 0, runMs: 0 } });
  });
  afterEach(() => h.sim.close());

  it("answers responses.parse() with JSON valid for the zod schema, and echoes text.format", async () => {
    const format = zodTextFormat(Report, "report");
    const parsed = await h.client.responses.parse({
      model: "gpt-4.1",
      input: "Summarise the report.",
      text: { format },
    });
    expect(parsed.output_parsed).not.toBeNull();
    expect(Report.parse(parsed.output_parsed)).toEqual(parsed.output_parsed);
    expect(parsed.text?.format).toMatchObject({
      type: "json_schema",
      name: "report",
      strict: true,
      schema: format.schema,
    });
    // The same request gives the same answer; another input another one.
    const again = await h.client.responses.parse({
      model: "gpt-4.1",
      input: "Summarise the report.",
      text: { format },
    });
    expect(again.output_parsed).toEqual(parsed.output_parsed);
  });

  it("keeps structured output valid through a background stream", async () => {
    h.sim.configure({ queuedMs: 100, runMs: 400 });
    const format = zodTextFormat(Report, "report");
    const stream = h.client.responses.stream({
      model: "gpt-4.1",
      input: "Stream it.",
      text: { format },
      background: true,
    });
    const ticking = (async () => {
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 5));
        h.clock.advance(50);
      }
    })();
    const final = await stream.finalResponse();
    await ticking;
    expect(final.output_parsed).not.toBeNull();
    expect(() => Report.parse(final.output_parsed)).not.toThrow();
  });

  it("answers json_object with a JSON object", async () => {
    const response = await h.client.responses.create({
      model: "gpt-4.1",
      input: "Reply in JSON.",
      text: { format: { type: "json_object" } },
    });
    const value = JSON.parse(response.output_text);
    expect(typeof value).toBe("object");
    expect(Array.isArray(value)).toBe(false);
    expect(response.text).toEqual({ format: { type: "json_object" }, verbosity: "medium" });
  });

  it("follows local $refs and type lists in a hand-written schema", async () => {
    const schema = {
      type: "object",
      $defs: {
        point: { type: "object", properties: { x: { type: "integer" }, y: { type: "integer" } }, required: ["x", "y"] },
      },
      properties: { start: { $ref: "#/$defs/point" }, label: { type: ["string", "null"] }, kind: { const: "line" } },
      required: ["start", "label", "kind"],
    };
    const response = await h.client.responses.create({
      model: "gpt-4.1",
      input: "A line.",
      text: { format: { type: "json_schema", name: "line", schema, strict: false } },
    });
    const value = JSON.parse(response.output_text);
    expect(value).toEqual({
      start: { x: expect.any(Number), y: expect.any(Number) },
      label: expect.any(String),
      kind: "line",
    });
    expect(Number.isInteger(value.start.x)).toBe(true);
  });

  it("refuses a json_schema format without a schema, and an unknown format type", async () => {
    const noSchema = await caught(
      h.client.responses.create({
        model: "gpt-4.1",
        input: "x",
        text: { format: { type: "json_schema", name: "x" } as never },
      }),
    );
    expect(noSchema).toMatchObject({ status: 400, param: "text.format.schema", code: "missing_required_parameter" });
    const unknown = await caught(
      h.client.responses.create({ model: "gpt-4.1", input: "x", text: { format: { type: "yaml" } as never } }),
    );
    expect(unknown).toMatchObject({ status: 400, param: "text.format.type", code: "invalid_value" });
  });
});
