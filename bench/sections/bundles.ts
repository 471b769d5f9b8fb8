/**
 * The Lambda bundles as CDK builds them (cdk/bundle-functions.ts): size, and cold-start init time
 * (a fresh Node process importing the bundle, the config read and clients built at import), on
 * Lambda's Node 24 (the figure held to the target) and on this machine's Node. The runs go round
 * robin over every bundle and both runtimes, so a busy moment on the machine lands on all of them.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBundles, formatBundleReport, importOnce } from "#cdk/bundle-functions.ts";
import { ensureNode24 } from "#cdk/lambda-node.ts";
import { round } from "#bench/lib/stats.ts";

export interface BundleResult {
  name: string;
  bytes: number;
  mapBytes: number;
  /** On Lambda's runtime (Node 24). */
  initMs: { median: number; runs: number[] };
  /** On the Node running the benchmark. */
  localInitMs: { node: string; median: number; runs: number[] };
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
    const lambdaNode = ensureNode24();
    const runtimes = [lambdaNode, process.execPath];
    const times = new Map(built.map((b) => [b.name, runtimes.map(() => [] as number[])]));
    for (let i = 0; i < runs; i++)
      for (const bundle of built)
        for (const [r, node] of runtimes.entries())
          times.get(bundle.name)![r]!.push(await importOnce(bundle.file, env, node));
    const median = (v: number[]) => round([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!, 1);
    const bundles: BundleResult[] = built.map((bundle) => {
      const [lambda, local] = times.get(bundle.name)!;
      return {
        name: bundle.name,
        bytes: bundle.bytes,
        mapBytes: bundle.mapBytes,
        initMs: { median: median(lambda!), runs: lambda!.map((ms) => round(ms, 1)) },
        localInitMs: { node: process.version, median: median(local!), runs: local!.map((ms) => round(ms, 1)) },
      };
    });
    return {
      bundles,
      report: formatBundleReport(bundles.map((b) => ({ ...b, initMs: b.initMs.median }))),
      buildSeconds,
    };
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}
