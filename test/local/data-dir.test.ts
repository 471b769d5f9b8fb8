import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DataDirInUseError, DataDirLock, emptyDataDir, loadDevCredentials } from "#local/data-dir.ts";

const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "relay-lock-"));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", "0"]).pid!;
}

const writeLock = (dir: string, pid: number, host = hostname()) =>
  writeFileSync(join(dir, "lock.json"), JSON.stringify({ pid, host, startedAt: "earlier", childPids: [] }));

describe("the data folder lock", () => {
  it("refuses a folder a live stack holds, naming its pid", () => {
    const dir = freshDir();
    const held = DataDirLock.acquire(dir);
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirInUseError);
    expect(() => DataDirLock.acquire(dir)).toThrow(new RegExp(`pid ${process.pid}`));
    held.release();
    expect(existsSync(join(dir, "lock.json"))).toBe(false);
    DataDirLock.acquire(dir).release();
  });

  it("takes over a stale lock (its owner died without releasing it)", () => {
    const dir = freshDir();
    writeLock(dir, deadPid());
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, "lock.json"), "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("takes over a lock cut short while it was written", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "lock.json"), '{"pid": 12');
    DataDirLock.acquire(dir).release();
  });

  it("refuses a lock from another host (a shared folder): its pid cannot be checked here", () => {
    const dir = freshDir();
    writeLock(dir, deadPid(), "some-other-host");
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirInUseError);
  });
});

describe("--fresh and the dev credentials", () => {
  it("keeps the dev key across starts and forgets it with the data", () => {
    const dir = freshDir();
    let made = 0;
    const make = () => ({ apiKey: `rr_${++made}`, webhookSecret: "whsec_x" });
    expect(loadDevCredentials(dir, make)).toEqual({
      credentials: { apiKey: "rr_1", webhookSecret: "whsec_x" },
      kept: false,
    });
    expect(loadDevCredentials(dir, make).credentials.apiKey).toBe("rr_1");
    emptyDataDir(dir);
    expect(loadDevCredentials(dir, make).credentials.apiKey).toBe("rr_2");
  });
});
