import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";

/**
 * How every Lambda bundle is built, in one place. CDK's NodejsFunction turns these into esbuild CLI
 * flags (cdk/constructs/relay-function.ts); the bundle test and the benchmark call the esbuild API
 * with the same values (cdk/bundle-functions.ts), so what is tested is what is deployed.
 * No aws-cdk-lib import here: the benchmark can load this without the CDK.
 */

/** The repository root (NodejsFunction's projectRoot; esbuild's working directory). */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Pinned, never NODEJS_LATEST (aws-cdk-lib 2.259 silently moved "latest" to nodejs24.x). Node 24 is
 * supported until 2028-04-30; the relay's handlers are all async, which is all Node 24 accepts.
 */
export const LAMBDA_NODE_MAJOR = 24;

/** The Lambda entry points, by function name. Adding a function: one line here, one in the stack. */
export const FUNCTION_ENTRIES = {
  "http-api": "functions/http-api.ts",
  poller: "functions/poller.ts",
  stream: "functions/stream.ts",
  "lifecycle-outbox": "functions/lifecycle-outbox.ts",
  worker: "functions/worker.ts",
} as const;

export type FunctionName = keyof typeof FUNCTION_ENTRIES;

export function entryPath(name: FunctionName): string {
  return join(REPO_ROOT, FUNCTION_ENTRIES[name]);
}

/**
 * The esbuild settings. ESM output because the handlers use top-level await (config and secrets
 * are read once at cold start). The banner gives bundled CommonJS dependencies a working
 * `require` (esbuild's ESM output has none); the alias avoids clashing with a bundled identifier.
 * `module` before `main` picks the ESM builds of dual packages, which tree-shake better.
 * Everything is bundled, the AWS SDK included: the version is the one in package-lock.json (not
 * whatever the runtime ships), and the bundle test can run a bundle with no node_modules beside it.
 */
export const RELAY_BUNDLING = {
  platform: "node",
  target: `node${LAMBDA_NODE_MAJOR}`,
  format: "esm",
  minify: true,
  /**
   * Names are not kept: keepNames wraps every function and class in a naming call that runs at
   * cold start (28 KB and about 15 ms for http-api, docs/decisions/0012-bundle-diet.md). Stack
   * traces get their names back from the source map; the relay's errors name themselves in a
   * string (shared/errors.ts), so error names in logs and replies stay readable.
   */
  keepNames: false,
  /** External `.map` files; NODE_OPTIONS=--enable-source-maps makes stack traces use them. */
  sourcemap: true,
  /** The map only needs names and positions; sources would double the asset for nothing. */
  sourcesContent: false,
  mainFields: ["module", "main"],
  banner:
    "import{createRequire as __relayCreateRequire}from'node:module';const require=__relayCreateRequire(import.meta.url);",
  external: [] as string[],
  /**
   * The AWS SDK's default credential chain, cut to the environment variables Lambda sets: the
   * rest of it (SSO, profiles, STS, instance metadata) never runs in Lambda and was 120 KB of
   * every bundle. Paths are relative to REPO_ROOT, esbuild's working directory.
   */
  alias: { "@aws-sdk/credential-provider-node": "./functions/lambda-credentials.ts" } as Record<string, string>,
  /** NodejsFunction names an ESM bundle `index.mjs`; the bundle test uses the same name. */
  outFile: "index.mjs",
} as const;

/**
 * Where the bundles' Node built-in modules come from: each built-in, with and without `node:`,
 * aliased to a one-line CommonJS file that hands back `process.getBuiltinModule(name)`.
 *
 * Why: esbuild keeps a built-in imported by ESM code as an ESM `import`, and Node answers each
 * one by building an ESM facade that reads every export of the module, which runs the lazy
 * getters (`fs.promises`, `fs.ReadStream`, …) and loads what they load. Importing the ~16
 * built-ins a bundle uses took 80–116 ms that way on Node 24 here, against 21–53 ms for the same
 * modules fetched as CommonJS (a script doing only that, 5 runs each). Through the shim esbuild sees a CommonJS module and reads its
 * properties as they are used. `process.getBuiltinModule` is Node ≥ 20.16 and 22.3.
 *
 * The shims are written at bundling time under node_modules/.cache (one per built-in, since an
 * alias names a file); the bundle test checks no built-in is left as an ESM import.
 */
function builtinAliases(): Record<string, string> {
  const dir = "node_modules/.cache/relay-node-builtins";
  mkdirSync(join(REPO_ROOT, dir), { recursive: true });
  const aliases: Record<string, string> = {};
  for (const name of builtinModules) {
    // Internal (`_http_agent`) and `node:`-only (`node:test`) names are never imported bare.
    if (name.startsWith("_") || name.startsWith("node:")) continue;
    const file = `${dir}/${name.replaceAll("/", "--")}.cjs`;
    const contents = `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${name}`)});\n`;
    const path = join(REPO_ROOT, file);
    let current: string | null = null;
    try {
      current = readFileSync(path, "utf8");
    } catch {
      /* not written yet */
    }
    if (current !== contents) writeFileSync(path, contents);
    aliases[name] = `./${file}`;
    aliases[`node:${name}`] = `./${file}`;
  }
  return aliases;
}

/** Every alias a bundle is built with: the credential chain's cut, and the built-ins (above). */
export function bundleAliases(): Record<string, string> {
  return { ...RELAY_BUNDLING.alias, ...builtinAliases() };
}

/** The esbuild API options equal to what NodejsFunction passes on the command line. */
export function esbuildOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: [entry],
    bundle: true,
    outfile: join(outdir, RELAY_BUNDLING.outFile),
    absWorkingDir: REPO_ROOT,
    platform: RELAY_BUNDLING.platform,
    target: RELAY_BUNDLING.target,
    format: RELAY_BUNDLING.format,
    minify: RELAY_BUNDLING.minify,
    keepNames: RELAY_BUNDLING.keepNames,
    sourcemap: RELAY_BUNDLING.sourcemap,
    sourcesContent: RELAY_BUNDLING.sourcesContent,
    mainFields: [...RELAY_BUNDLING.mainFields],
    banner: { js: RELAY_BUNDLING.banner },
    external: [...RELAY_BUNDLING.external],
    alias: bundleAliases(),
    logLevel: "warning",
  };
}
