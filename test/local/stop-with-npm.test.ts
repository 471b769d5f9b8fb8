/**
 * `npm start` stopped the way process managers and `timeout` stop it: SIGTERM to npm alone, not to
 * its process group. npm passes the signal to the `sh -c` running the script, which dies without
 * passing it on; the stack must stop all the same, DynamoDB Local's JVM included, and free its
 * ports and its data folder. Runs the real `npm start` (package.json's script, as a user types it).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "#local/dynamodb-local.ts";

const dataDir = mkdtempSync(join(tmpdir(), "relay-npm-stop-"));
let npm: ChildProcess | undefined;

afterAll(() => {
  // Whatever is left of the group (the point of the test is that nothing is).
  try {
    if (npm?.pid) process.kill(-npm.pid, "SIGKILL");
  } catch {
    // already gone
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** True while something accepts HTTP on the port. */
async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return true;
  } catch {
    return false;
  }
}

describe("npm start, sent SIGTERM on npm alone", () => {
  it("stops the whole stack: API port, DynamoDB Local and the data-folder lock", { timeout: 90_000 }, async () => {
    const port = await freePort();
    npm = spawn("npm", ["start", "--silent"], {
      env: { ...process.env, RELAY_DATA_DIR: dataDir, PORT: String(port), RELAY_POLL_TICK_MS: "500" },
      // Its own group, as a terminal would start it; the signal below goes to npm's pid only.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    npm.stdout!.on("data", (chunk) => (output += chunk));
    npm.stderr!.on("data", (chunk) => (output += chunk));
    const dynamoPort = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start was not ready in 60 s:\n${output}`)), 60_000);
      npm!.stdout!.on("data", () => {
        const dynamo = /DynamoDB Local at http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
        if (output.includes("is running") && dynamo) {
          clearTimeout(timer);
          resolve(Number(dynamo[1]));
        }
      });
      npm!.once("exit", (code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`)));
    });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(await answers(dynamoPort)).toBe(true);
    expect(existsSync(join(dataDir, "lock.json"))).toBe(true);

    process.kill(npm.pid!, "SIGTERM");

    const deadline = Date.now() + 20_000;
    let stillUp = { api: true, dynamo: true, lock: true };
    while (Date.now() < deadline) {
      stillUp = {
        api: await answers(port),
        dynamo: await answers(dynamoPort),
        lock: existsSync(join(dataDir, "lock.json")),
      };
      if (!stillUp.api && !stillUp.dynamo && !stillUp.lock) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(stillUp, output).toEqual({ api: false, dynamo: false, lock: false });
  });
});
