/**
 * The Lambda bundles as CDK builds them (cdk/bundle-functions.ts): size, and cold-start init time
 * (a fresh Node process importing the bundle, the config read and clients built at import).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundles, formatBundleReport, measureInitTime } from "#cdk/bundle-functions.ts";
import { round } from "#bench/lib/stats.ts";

export interface BundleResult {
  name: string;
  bytes: number;
  mapBytes: number;
  initMs: { median: number; runs: number[] };
}

export async function runBundles(
  runs: number,
): Promise<{ bundles: BundleResult[]; report: string; buildSeconds: number }> {
  const outDir = await mkdtemp(join(tmpdir(), "relay-bench-bundles-"));
  try {
    const started = Date.now();
    const built = await buildBundles(outDir);
    const buildSeconds = round((Date.now() - started) / 1000, 1);
    // What the stack sets at cold start, with a plain key instead of a secret ARN; nothing is called at import.
    const env = {
      AWS_REGION: "us-east-1",
      RELAY_TABLE_NAME: "bench-bundles",
      DYNAMODB_ENDPOINT: "http://127.0.0.1:9",
      OPENAI_API_KEY: "sk-bench",
      RELAY_PUBLIC_URL: "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const bundles: BundleResult[] = [];
    for (const bundle of built) {
      const timing = await measureInitTime(bundle.file, env, runs);
      bundles.push({
        name: bundle.name,
        bytes: bundle.bytes,
        mapBytes: bundle.mapBytes,
        initMs: { median: round(timing.medianMs, 1), runs: timing.runsMs.map((ms) => round(ms, 1)) },
      });
    }
    return {
      bundles,
      report: formatBundleReport(bundles.map((b) => ({ ...b, initMs: b.initMs.median }))),
      buildSeconds,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
