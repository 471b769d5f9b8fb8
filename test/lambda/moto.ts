import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";

/**
 * moto's server mode (`python3 -m moto.server`) on 127.0.0.1: a real wire peer for Secrets
 * Manager, speaking the same JSON protocol as AWS. A machine without python3 or moto fails the
 * test with what to install; it never passes by skipping.
 */
export async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const check = spawnSync("python3", ["-c", "import moto.server"], { encoding: "utf8" });
  if (check.status !== 0)
    throw new Error(
      `moto is needed for this test (pip install 'moto[server]'): python3 -c 'import moto.server' failed: ${check.error?.message ?? check.stderr}`,
    );
  const port = await freePort();
  const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto exited (${child.exitCode}) before it listened`);
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("moto did not start within 20 s");
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
