/**
 * The relay (test/drills/relay-process.ts) as a child process a drill owns and SIGKILLs by its
 * own pid, then starts again against the same table and upstream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const RELAY_SCRIPT = fileURLToPath(new URL("./relay-process.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export class RelayProcess {
  #child: ChildProcess | null = null;
  stderr = "";
  starts = 0;
  constructor(private readonly env: Record<string, string>) {}

  async start(): Promise<void> {
    this.starts++;
    const child = spawn(process.execPath, ["--import", "tsx", RELAY_SCRIPT], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child = child;
    child.stderr!.on("data", (chunk) => (this.stderr += chunk));
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`relay process not ready after 30 s:\n${this.stderr}`)), 30_000);
      child.stdout!.on("data", (chunk) => {
        out += chunk;
        if (out.includes("ready ")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`relay process exited before ready (${code ?? signal}):\n${this.stderr}`));
      });
    });
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    this.#child = null;
  }
}
