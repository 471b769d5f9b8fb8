import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const RUNNER = fileURLToPath(new URL("./lambda-runner.mjs", import.meta.url));

export interface Invocation<T = unknown> {
  result: T;
  durationMs: number;
}

type RunnerMessage =
  | { type: "ready"; initMs: number; handlerType: string }
  | { type: "init-error"; error: { name?: string; message: string; stack?: string } }
  | { type: "result"; id: number; result: unknown; durationMs: number }
  | { type: "error"; id: number; error: { name?: string; message: string; stack?: string }; durationMs: number };

/**
 * One warm Lambda environment for a built bundle, in its own Node process: `start` is the cold
 * start, `invoke` a Lambda invocation with a context whose remaining time is `timeoutMs`.
 */
export class LambdaContainer {
  readonly initMs: number;
  readonly handlerType: string;
  readonly #child: ChildProcess;
  readonly #functionName: string;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (value: Invocation) => void; reject: (error: Error) => void }>();
  #stderr = "";

  private constructor(child: ChildProcess, functionName: string, ready: { initMs: number; handlerType: string }) {
    this.#child = child;
    this.#functionName = functionName;
    this.initMs = ready.initMs;
    this.handlerType = ready.handlerType;
    child.on("message", (message: RunnerMessage) => {
      if (message.type !== "result" && message.type !== "error") return;
      const waiter = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.type === "result") waiter?.resolve({ result: message.result, durationMs: message.durationMs });
      else
        waiter?.reject(
          Object.assign(new Error(`${message.error.name}: ${message.error.message}`), { stack: message.error.stack }),
        );
    });
    child.on("exit", (code) => {
      for (const waiter of this.#pending.values())
        waiter.reject(new Error(`the ${functionName} container exited (${code}):\n${this.#stderr}`));
      this.#pending.clear();
    });
  }

  static async start(functionName: string, bundleFile: string, env: Record<string, string>): Promise<LambdaContainer> {
    const child = fork(RUNNER, [bundleFile], {
      // Lambda's environment, not the test runner's: only what the stack would set, plus PATH.
      env: { PATH: process.env.PATH ?? "", NODE_OPTIONS: "--enable-source-maps", ...env },
      execArgv: [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => (stderr += chunk));
    // The function's own log lines go to the parent's stdout only when asked, as CloudWatch would hold them.
    child.stdout?.on(
      "data",
      (chunk) => process.env.BUNDLE_TEST_LOGS && process.stdout.write(`[${functionName}] ${chunk}`),
    );
    const ready = await new Promise<{ initMs: number; handlerType: string }>((resolve, reject) => {
      child.once("message", (message: RunnerMessage) => {
        if (message.type === "ready") resolve(message);
        else if (message.type === "init-error")
          reject(new Error(`${functionName} failed its cold start: ${message.error.stack ?? message.error.message}`));
      });
      child.once("exit", (code) =>
        reject(new Error(`${functionName} exited during its cold start (${code}):\n${stderr}`)),
      );
    });
    const container = new LambdaContainer(child, functionName, ready);
    container.#stderr = stderr;
    child.stderr?.on("data", (chunk) => (container.#stderr += chunk));
    return container;
  }

  invoke<T = unknown>(event: unknown, options: { timeoutMs: number }): Promise<Invocation<T>> {
    const id = this.#nextId++;
    return new Promise<Invocation<T>>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: Invocation) => void, reject });
      this.#child.send({ type: "invoke", id, event, timeoutMs: options.timeoutMs, functionName: this.#functionName });
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#child.send({ type: "exit" });
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(timer);
  }
}
