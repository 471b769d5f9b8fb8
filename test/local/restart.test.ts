/**
 * `npm start` keeps its data: the real local stack (DynamoDB Local on a data folder, the
 * simulator, the HTTP API, the poller) is SIGKILLed as a whole process group with jobs in flight,
 * started again on the same folder, and still shows every job and ends each one. A second stack on
 * the same folder is refused; `--fresh` starts empty.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "#local/dynamodb-local.ts";

const TERMINAL = ["completed", "failed", "cancelled", "incomplete"];
const dataDir = mkdtempSync(join(tmpdir(), "relay-data-"));
const running: ChildProcess[] = [];
const t0 = Date.now();
const mark = (what: string) => process.env.DEBUG_RESTART && console.log(`[restart ${Date.now() - t0} ms] ${what}`);

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) killGroup(child, "SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Its own process group, as a terminal runs `npm start`: a group kill takes DynamoDB Local's JVM too. */
function startStack(port: number, args: string[] = []) {
  const child = spawn(process.execPath, ["--import", "tsx", "local/start.ts", ...args], {
    env: { ...process.env, RELAY_DATA_DIR: dataDir, PORT: String(port), RELAY_POLL_TICK_MS: "500" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<{ apiKey: string }>((resolve, reject) => {
    const check = () => {
      const key = /dev API key\s+(rr_\S+)/.exec(stdout);
      if (stdout.includes("is running") && key) resolve({ apiKey: key[1]! });
    };
    child.stdout!.on("data", check);
    void exited.then((code) => reject(new Error(`stack exited (${code}) before it was ready:\n${stdout}\n${stderr}`)));
  });
  return { child, ready, exited, output: () => `${stdout}\n${stderr}` };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

const api = (port: number, apiKey: string) => async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as any };
};

describe("the local stack across a SIGKILL", () => {
  it("keeps every job, finishes each one, refuses a second stack, and --fresh empties it", {
    timeout: 180_000,
  }, async () => {
    const port = await freePort();
    const first = startStack(port);
    const { apiKey } = await first.ready;
    const call = api(port, apiKey);
    mark("first ready");
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call("POST", "/v1/responses", { model: "gpt-5-pro", input: `job ${i}`, background: true });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    const before = (await call("GET", "/v1/responses?limit=100")).body.data;
    expect(before.filter((job: any) => !TERMINAL.includes(job.status)).length).toBeGreaterThan(0);

    // A second stack on the same folder is refused (the lock itself: test/local/data-dir.test.ts).
    const second = startStack(await freePort());
    second.ready.catch(() => {}); // it is meant to exit
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/Another local stack \(pid \d+.*is using/);
    expect((await call("GET", `/v1/responses/${ids[0]}`)).status).toBe(200);
    mark("second refused");
    killGroup(first.child, "SIGKILL");
    await first.exited;

    // Same folder, same port: the stale lock is taken over, the table and the dev key are found again.
    const again = startStack(port);
    const restarted = await again.ready;
    expect(restarted.apiKey).toBe(apiKey);
    mark("restarted");
    const listed = (await call("GET", "/v1/responses?limit=100")).body.data.map((job: any) => job.id);
    expect(listed.sort()).toEqual([...ids].sort());

    // Every job ends, none hangs: the simulator's responses died with it, so the relay's poll
    // gets a 404 and ends the job failed with the upstream's reason.
    const deadline = Date.now() + 90_000;
    let jobs: any[] = [];
    for (;;) {
      jobs = await Promise.all(ids.map(async (id) => (await call("GET", `/v1/responses/${id}`)).body));
      if (jobs.every((job) => TERMINAL.includes(job.status)) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(jobs.filter((job) => !TERMINAL.includes(job.status)).map((job) => `${job.id} ${job.status}`)).toEqual([]);
    for (const job of jobs.filter((j) => j.status === "failed"))
      expect(job.error?.message ?? job.relay?.reason).toBeTruthy();

    mark("all ended");
    // A clean stop releases the folder.
    killGroup(again.child, "SIGTERM");
    expect(await again.exited).toBe(0);
    expect(existsSync(join(dataDir, "lock.json"))).toBe(false);

    const fresh = startStack(port, ["--fresh"]);
    const freshKey = (await fresh.ready).apiKey;
    mark("fresh ready");
    expect(freshKey).not.toBe(apiKey);
    expect((await api(port, freshKey)("GET", "/v1/responses?limit=100")).body.data).toEqual([]);
    killGroup(fresh.child, "SIGTERM");
    expect(await fresh.exited).toBe(0);
  });
});
