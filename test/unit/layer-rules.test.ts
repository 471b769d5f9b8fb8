/**
 * The layer rules in biome.json bite: a file that imports across a layer the wrong way fails
 * `biome lint`, the same file importing the right way passes. Each probe is a real file linted by
 * the real Biome binary with the repository's own biome.json, in a scratch copy of the layout
 * (overrides match paths relative to the config), so nothing is ever written into the repository.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BIOME = join(REPO, "node_modules", ".bin", "biome");

/** [where the file sits, what it imports, a phrase of the rule's message] */
const WRONG: [string, string, string][] = [
  ["shared/domain/probe.ts", "#shared/store/dynamo-job-store.ts", "The domain is pure"],
  ["shared/domain/probe.ts", "openai", "The domain is pure"],
  ["shared/domain/probe.ts", "#shared/ports.ts", "The domain is pure"],
  ["shared/ports.ts", "#shared/store/dynamo-job-store.ts", "Ports speak the domain's types only"],
  ["shared/use-cases/probe.ts", "#shared/upstream/classify-error.ts", "through the ports"],
  ["shared/use-cases/probe.ts", "#shared/store/dynamo-job-store.ts", "through the ports"],
  ["shared/use-cases/probe.ts", "#shared/webhooks/http-sender.ts", "through the ports"],
  ["shared/use-cases/probe.ts", "#shared/http/app.ts", "never call them"],
  ["shared/use-cases/probe.ts", "@aws-sdk/lib-dynamodb", "No SDK"],
  ["shared/use-cases/probe.ts", "hono", "Only shared/http and functions/ speak Hono"],
  ["shared/streaming/probe.ts", "hono", "Only shared/http and functions/ speak Hono"],
  ["shared/streaming/probe.ts", "#shared/upstream/openai-upstream.ts", "through the ports"],
  ["shared/upstream/probe.ts", "#shared/use-cases/advance-job.ts", "Adapters implement ports"],
  ["shared/store/probe.ts", "#shared/http/app.ts", "Adapters implement ports"],
  ["shared/webhooks/probe.ts", "#shared/streaming/stream-service.ts", "Adapters implement ports"],
  ["shared/poller/probe.ts", "#shared/store/dynamo-job-store.ts", "The poller drives use cases"],
  ["shared/http/routes/probe.ts", "#shared/store/dynamo-job-store.ts", "Routes call use cases"],
  ["shared/clock.ts", "#test/support/relay.ts", "shared/ is the library"],
  ["shared/store/probe.ts", "#local/simulator/index.ts", "shared/ is the library"],
  ["functions/probe.ts", "#local/simulator/index.ts", "Lambda entry points bundle only shared/"],
  ["shared/use-cases/probe.ts", "../domain/job.ts", "subpath imports"],
  ["shared/probe.ts", "./store/dynamo-job-store.ts", "./ is for the same folder only"],
];

/** [where the file sits, what it imports]: the right way round, so lint passes. */
const RIGHT: [string, string][] = [
  ["shared/domain/probe.ts", "#shared/domain/job.ts"],
  ["shared/domain/probe.ts", "./job.ts"],
  ["shared/ports.ts", "#shared/domain/job.ts"],
  ["shared/use-cases/probe.ts", "#shared/domain/job.ts"],
  ["shared/use-cases/probe.ts", "#shared/ports.ts"],
  ["shared/use-cases/probe.ts", "#shared/errors.ts"],
  ["shared/use-cases/probe.ts", "#shared/webhooks/signing.ts"],
  ["shared/streaming/probe.ts", "#shared/use-cases/advance-job.ts"],
  ["shared/upstream/probe.ts", "#shared/streaming/sse.ts"],
  ["shared/upstream/probe.ts", "openai"],
  ["shared/store/probe.ts", "@aws-sdk/lib-dynamodb"],
  ["shared/http/probe.ts", "hono"],
  ["shared/http/routes/probe.ts", "#shared/use-cases/get-job.ts"],
  ["shared/poller/probe.ts", "#shared/use-cases/advance-job.ts"],
  ["functions/probe.ts", "#shared/runtime.ts"],
  ["functions/probe.ts", "hono/aws-lambda"],
];

interface Probe {
  path: string;
  specifier: string;
  /** The file as written (a `probe.ts` gets a number so many probes share a folder). */
  file: string;
  code?: number;
  messages: string[];
  output: string;
}

const scratch = mkdtempSync(join(tmpdir(), "layer-rules-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Writes the probes into batches (a path such as shared/ports.ts can only be one probe per batch),
 * each batch a folder with the repository's config, and lints each batch with one Biome run.
 */
beforeAll(async () => {
  // The scratch folder is no git checkout: the VCS integration (ignore file) has nothing to read.
  const config = JSON.stringify({
    ...JSON.parse(readFileSync(join(REPO, "biome.json"), "utf8")),
    vcs: { enabled: false },
  });
  const batches: Probe[][] = [];
  [...WRONG, ...RIGHT].forEach(([path, specifier], n) => {
    const file = path.replace(/probe\.ts$/, `probe-${n}.ts`);
    const probe: Probe = { path, specifier, file, messages: [], output: "" };
    let batch = batches.find((b) => !b.some((p) => p.file === file));
    if (!batch) batches.push((batch = []));
    batch.push(probe);
    probes.set(`${path} ${specifier}`, probe);
  });
  await Promise.all(
    batches.map(async (batch, i) => {
      const root = join(scratch, String(i));
      for (const probe of batch) {
        mkdirSync(dirname(join(root, probe.file)), { recursive: true });
        writeFileSync(
          join(root, probe.file),
          `import { probe } from "${probe.specifier}";\n\nexport const used = probe;\n`,
        );
      }
      writeFileSync(join(root, "biome.json"), config);
      const output = await new Promise<string>((resolve) =>
        execFile(BIOME, ["lint", "--colors=off", "--max-diagnostics=none", "."], { cwd: root }, (_e, stdout, stderr) =>
          resolve(stdout + stderr),
        ),
      );
      // Each diagnostic starts "path:line:col lint/group/rule" and its message follows on a "×" line.
      const lines = output.split("\n");
      lines.forEach((line, at) => {
        const hit = /^(\S+\.ts):\d+:\d+ (lint\/\S+)/.exec(line);
        if (!hit) return;
        const probe = batch.find((p) => p.file === hit[1]!.replace(/^\.\//, ""));
        const message = lines.slice(at + 1).find((l) => l.trim().startsWith("×")) ?? "";
        probe?.messages.push(`${hit[2]} ${message.trim()}`);
      });
      for (const probe of batch) probe.output = output;
    }),
  );
});
const probes = new Map<string, Probe>();

describe("layer rules (biome.json)", () => {
  it.each(WRONG)("%s importing %s fails lint", (path, specifier, message) => {
    const probe = probes.get(`${path} ${specifier}`)!;
    expect(probe.messages, probe.output).toHaveLength(1);
    expect(probe.messages[0]).toContain("lint/style/noRestrictedImports");
    expect(probe.messages[0]).toContain(message);
  });

  it.each(RIGHT)("%s importing %s passes lint", (path, specifier) => {
    const probe = probes.get(`${path} ${specifier}`)!;
    expect(probe.messages, probe.output).toEqual([]);
  });

  it("saw every probe: a batch Biome could not read would show no diagnostics at all", () => {
    const output = [...probes.values()].map((p) => p.output).join("\n");
    expect(output).toMatch(/Checked \d+ files?/);
    expect(output).not.toContain("configuration resulted in errors");
  });
});
