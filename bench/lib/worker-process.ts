import { spawn } from "node:child_process";

/**
 * Runs a benchmark worker script in a fresh Node process (with `--expose-gc`, so it can measure
 * memory after a collection) and resolves with the JSON on its last stdout line. A fresh process
 * per measurement keeps one section's heap out of another's figures.
 */
export function runWorkerProcess<T>(script: string, name: string, env: Record<string, string>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script], {
      env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (err += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) return reject(new Error(`${name} worker exited ${code}:\n${err}\n${out}`));
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${name} worker printed no result:\n${out}\n${err}`));
      }
    });
  });
}
