import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "#cdk/bundling.ts";
import { ensureNode24 } from "#cdk/lambda-node.ts";
import { RuntimeApi } from "./runtime-api.ts";

/** AWS's Lambda runtime interface client (devDependency aws-lambda-ric), native part built at install. */
const RIC = join(REPO_ROOT, "node_modules/aws-lambda-ric/index.mjs");

/** Fails loudly, never skips, when the test-only runtime is not installed. */
export function assertLambdaRuntimeInstalled(): void {
  ensureNode24();
  const missing = [RIC, join(REPO_ROOT, "node_modules/aws-lambda-ric/rapid-client.node")].filter((f) => !existsSync(f));
  if (missing.length)
    throw new Error(
      `aws-lambda-ric is not installed (run npm ci; its native part builds at install): missing ${missing.join(", ")}`,
    );
}

/**
 * One Lambda execution environment: Node 24 running aws-lambda-ric against a local Runtime API,
 * loading `index.handler` from the bundle's directory, with the environment Lambda sets for the
 * template's function (JSON log format, INFO level) plus the function's own variables. stdout is
 * what CloudWatch Logs would store, one event per line.
 */
export class RicProcess {
  stdout = "";
  stderr = "";
  /** stdout and stderr interleaved as they arrived: Lambda sends both to the log stream. */
  output = "";
  readonly api: RuntimeApi;
  readonly #child: ChildProcess;
  readonly exited: Promise<number | null>;

  private constructor(api: RuntimeApi, child: ChildProcess) {
    this.api = api;
    this.#child = child;
    child.stdout?.on("data", (chunk) => {
      this.stdout += chunk;
      this.output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      this.stderr += chunk;
      this.output += chunk;
    });
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  static async start(bundleFile: string, functionName: string, env: Record<string, string>): Promise<RicProcess> {
    assertLambdaRuntimeInstalled();
    const api = await RuntimeApi.start();
    const taskRoot = dirname(bundleFile);
    const child = spawn(ensureNode24(), [RIC, "index.handler"], {
      cwd: taskRoot,
      env: {
        PATH: process.env.PATH ?? "",
        AWS_LAMBDA_RUNTIME_API: api.address,
        _HANDLER: "index.handler",
        LAMBDA_TASK_ROOT: taskRoot,
        AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "1024",
        AWS_LAMBDA_LOG_FORMAT: "JSON",
        AWS_LAMBDA_LOG_LEVEL: "INFO",
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
        AWS_LAMBDA_LOG_STREAM_NAME: "2026/01/01/[$LATEST]0123456789abcdef",
        AWS_REGION: "us-east-1",
        AWS_DEFAULT_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_SESSION_TOKEN: "test",
        TZ: ":UTC",
        NODE_OPTIONS: "--enable-source-maps",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new RicProcess(api, child);
  }

  /** Log lines (stdout and stderr), each parsed as CloudWatch would see the event (raw text when not JSON). */
  lines(): (Record<string, unknown> | string)[] {
    return this.output
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return line;
        }
      });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
    await this.exited;
    await this.api.close();
  }
}
