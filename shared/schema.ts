/**
 * A small schema kit for the relay's two strict documents: the relay's own fields of a submit
 * body (shared/http/submit-body.ts) and the upstreams configuration (shared/upstreams-config.ts).
 * It stands in for zod, which was 40 % of every Lambda bundle (docs/decisions/0012-bundle-diet.md).
 * Messages keep zod's wording, and never quote a value: a config value may be a secret (a URL
 * with credentials), and a caller's may be megabytes long. Keys are quoted, shortened.
 */

type Path = readonly (string | number)[];

export interface Issue {
  path: Path;
  message: string;
  /** The value was absent: the caller left out a required field. */
  missing: boolean;
}

const INVALID: unique symbol = Symbol("invalid");

/** Reads a value: returns it (with defaults filled in), or records what is wrong and returns INVALID. */
export type Schema<T> = (value: unknown, path: Path, issues: Issue[]) => T | typeof INVALID;

type Infer<S> = S extends Schema<infer T> ? T : never;

export function safeParse<T>(
  schema: Schema<T>,
  value: unknown,
): { ok: true; value: T } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const out = schema(value, [], issues);
  return out === INVALID || issues.length ? { ok: false, issues } : { ok: true, value: out };
}

const fail = (issues: Issue[], path: Path, message: string, missing = false): typeof INVALID => {
  issues.push({ path, message, missing });
  return INVALID;
};

/** What zod calls a value's type in "received …": `array` and `null` apart from `object`. */
function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && !Number.isFinite(value)) return Number.isNaN(value) ? "NaN" : "Infinity";
  return typeof value;
}

const wrongType = (issues: Issue[], path: Path, expected: string, value: unknown): typeof INVALID =>
  fail(issues, path, `Invalid input: expected ${expected}, received ${typeName(value)}`, value === undefined);

/** A key as quoted in a message: at most 64 characters of it. */
const quoteKey = (key: string) => JSON.stringify(key.length <= 64 ? key : `${key.slice(0, 64)}…`);

export function string(options: { min?: number; max?: number } = {}): Schema<string> {
  return (value, path, issues) => {
    if (typeof value !== "string") return wrongType(issues, path, "string", value);
    if (options.min !== undefined && value.length < options.min)
      return fail(issues, path, `Too small: expected string to have >=${options.min} characters`);
    if (options.max !== undefined && value.length > options.max)
      return fail(issues, path, `Too big: expected string to have <=${options.max} characters`);
    return value;
  };
}

/** A finite number; `int` also refuses fractions; `gt` is exclusive, `min`/`max` inclusive. */
export function number(options: { int?: boolean; gt?: number; min?: number; max?: number } = {}): Schema<number> {
  return (value, path, issues) => {
    if (typeof value !== "number" || !Number.isFinite(value)) return wrongType(issues, path, "number", value);
    if (options.int && !Number.isInteger(value)) return wrongType(issues, path, "int", value);
    if (options.gt !== undefined && !(value > options.gt))
      return fail(issues, path, `Too small: expected number to be >${options.gt}`);
    if (options.min !== undefined && value < options.min)
      return fail(issues, path, `Too small: expected number to be >=${options.min}`);
    if (options.max !== undefined && value > options.max)
      return fail(issues, path, `Too big: expected number to be <=${options.max}`);
    return value;
  };
}

export const boolean = (): Schema<boolean> => (value, path, issues) =>
  typeof value === "boolean" ? value : wrongType(issues, path, "boolean", value);

export function oneOf<const T extends readonly string[]>(options: T): Schema<T[number]> {
  const message = `Invalid option: expected one of ${options.map((o) => JSON.stringify(o)).join("|")}`;
  return (value, path, issues) =>
    options.includes(value as string) ? (value as T[number]) : fail(issues, path, message);
}

/** Any value the predicate accepts, as it is (e.g. `input`: a string or an array). */
export const custom =
  <T>(accepts: (value: unknown) => value is T, expected: string): Schema<T> =>
  (value, path, issues) =>
    accepts(value) ? value : wrongType(issues, path, expected, value);

/** An extra rule on a value that passed `schema`. */
export const refine =
  <T>(schema: Schema<T>, holds: (value: T) => boolean, message: string): Schema<T> =>
  (value, path, issues) => {
    const out = schema(value, path, issues);
    return out === INVALID || holds(out) ? out : fail(issues, path, message);
  };

export const optional =
  <T>(schema: Schema<T>): Schema<T | undefined> =>
  (value, path, issues) =>
    value === undefined ? undefined : schema(value, path, issues);

/** Null or absent (OpenAI accepts `null` for "not set"). */
export const nullish =
  <T>(schema: Schema<T>): Schema<T | null | undefined> =>
  (value, path, issues) =>
    value === undefined || value === null ? value : schema(value, path, issues);

export const withDefault =
  <T>(schema: Schema<T>, fallback: NoInfer<T>): Schema<T> =>
  (value, path, issues) =>
    value === undefined ? structuredClone(fallback) : schema(value, path, issues);

export function array<T>(item: Schema<T>, options: { min?: number } = {}): Schema<T[]> {
  return (value, path, issues) => {
    if (!Array.isArray(value)) return wrongType(issues, path, "array", value);
    if (options.min !== undefined && value.length < options.min)
      return fail(issues, path, `Too small: expected array to have >=${options.min} items`);
    const before = issues.length;
    const out = value.map((v, i) => item(v, [...path, i], issues));
    return issues.length > before ? INVALID : (out as T[]);
  };
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** An object whose keys (checked by `key`) each hold a `value`. */
export function record<V>(key: Schema<string>, value: Schema<V>): Schema<Record<string, V>> {
  return (raw, path, issues) => {
    if (!isPlainObject(raw)) return wrongType(issues, path, "object", raw);
    const before = issues.length;
    const out: Record<string, V> = {};
    for (const [k, v] of Object.entries(raw)) {
      const entryPath = [...path, k];
      if (key(k, entryPath, issues) === INVALID) continue;
      const read = value(v, entryPath, issues);
      if (read !== INVALID) out[k] = read;
    }
    return issues.length > before ? INVALID : out;
  };
}

type Shape = Record<string, Schema<unknown>>;
type ObjectOf<S extends Shape> = {
  [K in keyof S as undefined extends Infer<S[K]> ? never : K]: Infer<S[K]>;
} & { [K in keyof S as undefined extends Infer<S[K]> ? K : never]?: Infer<S[K]> };

/**
 * An object of known fields. `strict`: another key is an issue (the relay's own fields, where
 * one is a typo); `passthrough`: other keys are kept as they are (an OpenAI body's other fields).
 */
export function object<S extends Shape>(
  shape: S,
  unknownKeys: "strict",
): Schema<{ [K in keyof ObjectOf<S>]: ObjectOf<S>[K] }>;
export function object<S extends Shape>(
  shape: S,
  unknownKeys: "passthrough",
): Schema<{ [K in keyof ObjectOf<S>]: ObjectOf<S>[K] } & Record<string, unknown>>;
export function object(shape: Shape, unknownKeys: "strict" | "passthrough"): Schema<Record<string, unknown>> {
  return (raw, path, issues) => {
    if (!isPlainObject(raw)) return wrongType(issues, path, "object", raw);
    const before = issues.length;
    const out: Record<string, unknown> = unknownKeys === "passthrough" ? { ...raw } : {};
    for (const [k, read] of Object.entries(shape)) {
      const v = read(raw[k], [...path, k], issues);
      if (v !== undefined && v !== INVALID) out[k] = v;
    }
    if (unknownKeys === "strict") {
      const extra = Object.keys(raw).filter((k) => !Object.hasOwn(shape, k));
      if (extra.length)
        fail(issues, path, `Unrecognized key${extra.length > 1 ? "s" : ""}: ${extra.map(quoteKey).join(", ")}`);
    }
    return issues.length > before ? INVALID : out;
  };
}
