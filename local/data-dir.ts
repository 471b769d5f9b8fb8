import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout's root: `.relay/` lives there whatever directory `npm start` is run from. */
const CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the local stack keeps its state: `RELAY_DATA_DIR`, or `.relay/` in the checkout (git-ignored). */
export function dataDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.RELAY_DATA_DIR?.trim();
  return configured ? resolve(configured) : join(CHECKOUT, ".relay");
}

export class DataDirInUseError extends Error {
  constructor(dir: string, holder: LockHolder) {
    super(
      `Another local stack (pid ${holder.pid}, started ${holder.startedAt}) is using ${dir}.\n` +
        "Two stacks on one data folder would corrupt each other's DynamoDB Local files. Stop that one, " +
        "or give this one its own folder: RELAY_DATA_DIR=/some/other/dir npm start",
    );
    this.name = "DataDirInUseError";
  }
}

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** DynamoDB Local's JVM: an orphan of a killed stack must not keep writing the same files. */
  childPids: number[];
}

/** Whether a process is alive (EPERM means it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Its command line where /proc exists (Linux), so a reused pid is not mistaken for ours. */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return null;
  }
}

/**
 * An exclusive claim on the data folder: `lock.json` holds the owner's pid. A lock whose owner is
 * gone (the stack was SIGKILLed) is stale and taken over; a DynamoDB Local JVM it left running is
 * stopped first, since it still has the database files open.
 */
export class DataDirLock {
  readonly #file: string;
  #holder: LockHolder;

  private constructor(file: string, holder: LockHolder) {
    this.#file = file;
    this.#holder = holder;
  }

  static acquire(dir: string): DataDirLock {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "lock.json");
    const holder: LockHolder = {
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      childPids: [],
    };
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(file, JSON.stringify(holder), { flag: "wx" });
        return new DataDirLock(file, holder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 2) throw error;
      }
      let previous: LockHolder | null = null;
      try {
        previous = JSON.parse(readFileSync(file, "utf8")) as LockHolder;
      } catch {
        // Unreadable (cut short by a crash while writing it): stale.
      }
      if (previous && previous.host === holder.host && alive(previous.pid)) throw new DataDirInUseError(dir, previous);
      if (previous && previous.host !== holder.host) throw new DataDirInUseError(dir, previous);
      for (const pid of previous?.childPids ?? []) {
        if (alive(pid) && commandLine(pid)?.includes("DynamoDBLocal")) process.kill(pid, "SIGKILL");
      }
      rmSync(file, { force: true });
    }
  }

  /** Records a child that holds the folder's files, for the next start to clean up after a crash. */
  addChild(pid: number | undefined): void {
    if (pid === undefined) return;
    this.#holder = { ...this.#holder, childPids: [...this.#holder.childPids, pid] };
    writeFileSync(this.#file, JSON.stringify(this.#holder));
  }

  release(): void {
    rmSync(this.#file, { force: true });
  }
}

/** `--fresh`: everything in the folder but the lock goes. Only ever called while holding the lock. */
export function emptyDataDir(dir: string): void {
  rmSync(join(dir, "dynamodb"), { recursive: true, force: true });
  rmSync(join(dir, "dev-tenant.json"), { force: true });
  rmSync(join(dir, "outbox-checkpoints.json"), { force: true });
}

export interface DevCredentials {
  apiKey: string;
  webhookSecret: string;
}

/**
 * The dev tenant's key and webhook secret, kept beside the data (mode 0600) so the jobs a
 * restart keeps stay readable with the key printed last time.
 */
export function loadDevCredentials(
  dir: string,
  make: () => DevCredentials,
): { credentials: DevCredentials; kept: boolean } {
  const file = join(dir, "dev-tenant.json");
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as DevCredentials;
    if (saved.apiKey && saved.webhookSecret) return { credentials: saved, kept: true };
  } catch {
    // None yet (first start, or --fresh).
  }
  const credentials = make();
  writeFileSync(file, JSON.stringify(credentials), { mode: 0o600 });
  return { credentials, kept: false };
}
