/**
 * A value valid for a JSON Schema, chosen by a seeded PRNG: the simulated model's structured output and
 * function-call arguments. Covers what structured outputs allow (object, properties, required, string,
 * number, integer, boolean, null, array with min/max items, enum, const, anyOf, local `$ref`s, type lists)
 * and keeps strings ASCII words so the text stays byte-exact for streaming.
 */
import { pick } from "./random.ts";
import type { Json } from "./validate.ts";

type Schema = { [key: string]: Json };

const WORDS = ["alpha", "bravo", "delta", "relay", "river", "summit", "harbor", "quartz", "maple", "orbit"];
const MAX_DEPTH = 12;

const isSchema = (v: Json | undefined): v is Schema => typeof v === "object" && v !== null && !Array.isArray(v);

function resolveRef(root: Schema, ref: string): Schema {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return {};
  let node: Json | undefined = root;
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isSchema(node) ? node[key] : undefined;
  }
  return isSchema(node) ? node : {};
}

function stringFor(schema: Schema, rand: () => number): string {
  switch (schema.format) {
    case "date-time":
      return "2026-01-01T00:00:00Z";
    case "date":
      return "2026-01-01";
    case "time":
      return "00:00:00";
    case "email":
      return "someone@example.com";
    case "uuid":
      return "00000000-0000-4000-8000-000000000000";
    case "uri":
      return "https://example.com/";
  }
  const words = 1 + Math.floor(rand() * 3);
  let text = Array.from({ length: words }, () => pick(WORDS, rand)).join(" ");
  const min = typeof schema.minLength === "number" ? schema.minLength : 0;
  const max = typeof schema.maxLength === "number" ? schema.maxLength : Infinity;
  while (text.length < min) text += " alpha";
  return text.slice(0, Math.max(min, Math.min(max, text.length)));
}

function bound(schema: Schema, inclusive: string, exclusive: string, step: number): number | undefined {
  if (typeof schema[inclusive] === "number") return schema[inclusive] as number;
  if (typeof schema[exclusive] === "number") return (schema[exclusive] as number) + step;
  return undefined;
}

function numberFor(schema: Schema, rand: () => number, integer: boolean): number {
  const lo = bound(schema, "minimum", "exclusiveMinimum", integer ? 1 : 0.01) ?? 0;
  // Stay near the lower bound: zod's integers come with +-2^53 bounds.
  const hi = Math.min(bound(schema, "maximum", "exclusiveMaximum", integer ? -1 : -0.01) ?? lo + 100, lo + 100);
  if (integer) {
    const ilo = Math.ceil(lo);
    const ihi = Math.floor(hi);
    return ihi < ilo ? ilo : ilo + Math.floor(rand() * (ihi - ilo + 1));
  }
  return Math.min(hi, Math.max(lo, Math.round((lo + rand() * (hi - lo)) * 100) / 100));
}

function valueOfType(type: string, schema: Schema, root: Schema, rand: () => number, depth: number): Json {
  switch (type) {
    case "string":
      return stringFor(schema, rand);
    case "integer":
      return numberFor(schema, rand, true);
    case "number":
      return numberFor(schema, rand, false);
    case "boolean":
      return rand() < 0.5;
    case "null":
      return null;
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 1;
      const max = typeof schema.maxItems === "number" ? schema.maxItems : Math.max(min, 3);
      const count = depth >= MAX_DEPTH ? min : min + Math.floor(rand() * (Math.min(max, min + 2) - min + 1));
      const items = isSchema(schema.items) ? schema.items : {};
      return Array.from({ length: count }, () => valueFor(items, root, rand, depth + 1));
    }
    default: {
      const out: { [key: string]: Json } = {};
      const props = isSchema(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? schema.required : [];
      for (const [key, sub] of Object.entries(props)) {
        // Past the depth limit only required properties are filled, so recursive schemas end.
        if (depth >= MAX_DEPTH && !required.includes(key)) continue;
        out[key] = valueFor(isSchema(sub) ? sub : {}, root, rand, depth + 1);
      }
      return out;
    }
  }
}

/** A value valid for `schema` (whose `$ref`s resolve against `root`). */
export function valueFor(schema: Schema, root: Schema, rand: () => number, depth = 0): Json {
  if (typeof schema.$ref === "string") return valueFor(resolveRef(root, schema.$ref), root, rand, depth + 1);
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return pick(schema.enum, rand);
  const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : null;
  if (union && union.length > 0) {
    // Prefer a non-null branch, so optional-by-nullable fields still carry a value.
    const branch = union.find((b) => isSchema(b) && b.type !== "null") ?? union[0];
    return valueFor(isSchema(branch) ? branch : {}, root, rand, depth + 1);
  }
  if (Array.isArray(schema.allOf) && isSchema(schema.allOf[0])) return valueFor(schema.allOf[0], root, rand, depth + 1);
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => typeof t === "string") : [schema.type];
  const type = (types.find((t) => t !== "null") ??
    types[0] ??
    (isSchema(schema.properties) ? "object" : "string")) as string;
  return valueOfType(type, schema, root, rand, depth);
}

/** JSON text for a schema, with any non-ASCII escaped so every character is one byte. */
export function jsonFor(schema: Schema, seed: () => number): string {
  return asciiJson(valueFor(schema, schema, seed));
}

export function asciiJson(value: Json): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
