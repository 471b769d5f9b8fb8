import { spawn } from "node:child_process";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { entryPath, esbuildOptions, FUNCTION_ENTRIES, RELAY_BUNDLING, type FunctionName } from "./bundling.ts";

/**
 * Builds the Lambda bundles outside CDK, with the settings NodejsFunction uses (cdk/bundling.ts),
 * and measures them. The bundle test runs the result; the benchmark reports sizes and init times.
 */

export interface BuiltBundle {
  name: FunctionName;
  /** Directory holding `index.mjs` and `index.mjs.map`, as in the Lambda asset. */
  dir: string;
  file: string;
  bytes: number;
  mapBytes: number;
  /** Imports left in the bundle (resolved at run time): only Node built-ins when everything is bundled. */
  runtimeImports: string[];
}

export const ALL_FUNCTIONS = Object.keys(FUNCTION_ENTRIES) as FunctionName[];

/** One directory per function under `outDir`, built in parallel. */
export async function buildBundles(
  outDir: string,
  names: readonly FunctionName[] = ALL_FUNCTIONS,
): Promise<BuiltBundle[]> {
  return Promise.all(
    names.map(async (name) => {
      const dir = join(outDir, name);
      await mkdir(dir, { recursive: true });
      // The metafile only reports what was built; the emitted code is the same without it.
      const { metafile } = await build({ ...esbuildOptions(entryPath(name), dir), metafile: true });
      const file = join(dir, RELAY_BUNDLING.outFile);
      const [js, map] = await Promise.all([stat(file), stat(`${file}.map`)]);
      const runtimeImports = new Set(
        Object.values(metafile.outputs).flatMap((output) => output.imports.map((i) => i.path)),
      );
      return { name, dir, file, bytes: js.size, mapBytes: map.size, runtimeImports: [...runtimeImports].sort() };
    }),
  );
}

export interface InitTiming {
  /** Median time to import the bundle (top-level code and awaits included) in a fresh Node process. */
  medianMs: number;
  runsMs: number[];
}

// Runs in the child: time the import, report it, and leave (clients built at import keep no sockets open).
// The Lambda Node.js runtime defines \`awslambda\` (streamifyResponse, HttpResponseStream) before a
// handler module loads; the stream handler calls it at import, so the timer provides the same.
const IMPORT_TIMER = `
globalThis.awslambda ??= { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (stream) => stream } };
const started = performance.now();
await import(process.argv[1]);
process.stdout.write(JSON.stringify({ initMs: performance.now() - started }));
process.exit(0);
`;

/**
 * Cold-start init as the module sees it: each run is a new `node` process (like a new Lambda
 * execution environment) importing the bundle with `--enable-source-maps`, as NODE_OPTIONS sets it
 * in AWS. `env` must hold what the function reads at cold start (table name, upstream key, …).
 * Node's own start-up and the Lambda runtime client are not included.
 */
export async function measureInitTime(
  file: string,
  env: Record<string, string>,
  runs = 3,
  node = process.execPath,
): Promise<InitTiming> {
  const runsMs: number[] = [];
  for (let i = 0; i < runs; i++) runsMs.push(await importOnce(file, env, node));
  const sorted = [...runsMs].sort((a, b) => a - b);
  const medianMs = sorted[Math.floor(sorted.length / 2)];
  if (medianMs === undefined) throw new RangeError(`measureInitTime needs at least one run, got runs=${runs}`);
  return { medianMs, runsMs };
}

/** One cold import in a fresh process of `node` (this process's Node unless another binary is named). */
export function importOnce(file: string, env: Record<string, string>, node = process.execPath): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      node,
      ["--enable-source-maps", "--input-type=module", "-e", IMPORT_TIMER, pathToFileURL(file).href],
      {
        env: { PATH: process.env.PATH ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`importing ${file} failed (exit ${code}):\n${err}`));
      try {
        resolve((JSON.parse(out) as { initMs: number }).initMs);
      } catch {
        reject(new Error(`unexpected output from the init timer: ${out}\n${err}`));
      }
    });
  });
}

/** A one-line-per-function table for logs and the benchmark report. */
export function formatBundleReport(rows: { name: string; bytes: number; mapBytes: number; initMs?: number }[]): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  return rows
    .map(
      (r) =>
        `${r.name.padEnd(10)} bundle ${kb(r.bytes).padStart(10)}  map ${kb(r.mapBytes).padStart(10)}${r.initMs === undefined ? "" : `  init ${r.initMs.toFixed(0).padStart(5)} ms`}`,
    )
    .join("\n");
}
