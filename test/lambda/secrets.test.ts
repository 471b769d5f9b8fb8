import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRIC } from "#shared/metrics.ts";
import { SecretSource } from "#shared/secrets/secret-source.ts";
import { startMoto } from "./moto.ts";

let moto: Awaited<ReturnType<typeof startMoto>>;
let client: SecretsManagerClient;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

beforeAll(async () => {
  moto = await startMoto();
  client = new SecretsManagerClient({ region: "us-east-1", endpoint: moto.endpoint, credentials });
}, 30_000);
afterAll(async () => moto?.stop());

function source(arns: ConstructorParameters<typeof SecretSource>[0]["arns"], maxAgeSeconds = 1) {
  const logs: Record<string, unknown>[] = [];
  const metrics: string[] = [];
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  const s = new SecretSource({
    arns,
    region: "us-east-1",
    endpoint: moto.endpoint,
    maxAgeSeconds,
    log: (e) => void logs.push(e),
    metrics: { emit: (name) => void metrics.push(name) },
  });
  return { s, logs, metrics };
}

const create = async (name: string, value?: string) =>
  (await client.send(new CreateSecretCommand({ Name: `${name}-${Date.now()}`, SecretString: value }))).ARN!;

describe("operator secrets from Secrets Manager (moto)", () => {
  it("a rotated key is picked up after the max age, without a restart", async () => {
    const arn = await create("key", "sk-first-key-0000");
    const { s } = source({ "openai-api-key": arn });
    expect(await s.get("openai-api-key")).toBe("sk-first-key-0000");
    await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: "sk-second-key-0000" }));
    expect(await s.get("openai-api-key")).toBe("sk-first-key-0000"); // still cached
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await s.get("openai-api-key")).toBe("sk-second-key-0000");
  });

  it("a secret with no value yet reads as absent: one error line naming it, a metric, no exception", async () => {
    const arn = await create("empty");
    const { s, logs, metrics } = source({ "openai-api-key": arn });
    expect(await s.get("openai-api-key")).toBeUndefined();
    expect(await s.get("openai-api-key")).toBeUndefined();
    expect(logs.filter((l) => l.level === "error")).toHaveLength(1);
    expect(String(logs[0]!.msg)).toMatch(/openai-api-key could not be read/);
    expect(metrics[0]).toBe(METRIC.secretInvalid);
  });

  it("a webhook secret without whsec_ is refused (the endpoint goes off), and its value is never logged", async () => {
    const arn = await create("hook", "supersecretvalue123");
    const { s, logs } = source({ "openai-webhook-secret": arn });
    expect(await s.get("openai-webhook-secret")).toBeUndefined();
    expect(String(logs[0]!.msg)).toMatch(/openai-webhook-secret does not start with whsec_; OpenAI webhooks are off/);
    expect(JSON.stringify(logs)).not.toContain("supersecretvalue123");
  });

  it("a fixed secret is usable again once put, and says so", async () => {
    const arn = await create("fixed", "whsec_bad!");
    const { s, logs } = source({ "openai-webhook-secret": arn });
    expect(await s.get("openai-webhook-secret")).toBeUndefined();
    const good = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
    await client.send(new PutSecretValueCommand({ SecretId: arn, SecretString: good }));
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await s.get("openai-webhook-secret")).toBe(good);
    expect(logs.at(-1)).toMatchObject({ level: "info", msg: "secret usable again" });
  });
});
