import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import OpenAI from "openai";
import { jsonOf } from "./helpers.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

describe("simulator: CLI", () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill("SIGTERM");
  });

  it("starts on the given port with the given behaviour and serves the SDK", async () => {
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "local/simulator/main.ts",
        "--port",
        "0",
        "--queued-ms",
        "0",
        "--output-bytes",
        "40",
        "--quiet",
      ],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const baseURL = await new Promise<string>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /baseURL (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child!.on("exit", (code) => reject(new Error(`CLI exited with ${code}: ${out}`)));
    });
    const client = new OpenAI({ baseURL, apiKey: "sk-test", maxRetries: 0 });
    const created = await client.responses.create({ model: "gpt-5-pro", input: "hi", background: true });
    expect(created.status).toBe("in_progress");
    const config = await jsonOf(await fetch(new URL("/_sim/config", baseURL)));
    expect(config).toMatchObject({ queuedMs: 0, outputBytes: 40 });
  });
});
