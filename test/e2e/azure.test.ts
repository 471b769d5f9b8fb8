import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "#shared/clock.ts";
import { loadConfig } from "#shared/config.ts";
import { createDeps } from "#shared/runtime.ts";
import { startSimulator, type Simulator } from "#local/simulator/index.ts";
import { submitJob } from "#shared/use-cases/submit-job.ts";
import { advanceJob } from "#shared/use-cases/advance-job.ts";
import { createTenant } from "#shared/use-cases/manage-keys.ts";
import { createTestTable } from "#test/support/dynamo.ts";
import { UpstreamAuthError } from "#shared/errors.ts";

let sim: Simulator;
const clock = new ManualClock();
beforeAll(async () => {
  sim = await startSimulator({ clock, azure: true, apiKey: "azure-key-123", behaviour: { queuedMs: 100, runMs: 100 } });
});
afterAll(() => sim.close());

describe("Azure OpenAI", () => {
  it("uses an /openai/v1 base as it is (no second /v1) and sends the key in api-key", async () => {
    expect(sim.url).toMatch(/\/openai\/v1$/);
    const table = await createTestTable();
    const config = loadConfig({
      RELAY_TABLE_NAME: table.tableName,
      DYNAMODB_ENDPOINT: table.endpoint,
      OPENAI_BASE_URL: `${sim.url}/`,
      OPENAI_API_KEY: "azure-key-123",
      // A loopback simulator has no Azure host name to detect, so the header is set explicitly.
      OPENAI_API_KEY_HEADER: "api-key",
    });
    expect(config.openai.baseUrl).toBe(sim.url);
    const deps = createDeps(config, { clock });
    const { tenant } = await createTenant(deps.tenants, { name: "azure" });
    const { job } = await submitJob(
      {
        tenant,
        body: { model: "my-gpt-5-deployment", input: "hi" },
        webhook: null,
        idempotencyKey: null,
        mode: "background",
        sdkRetry: false,
      },
      deps,
    );
    expect(job.upstreamId).toMatch(/^resp_/);
    clock.advance(1000);
    const step = await advanceJob(job, deps);
    expect(step.job.status).toBe("completed");
  });

  it("treats Azure refusing the relay's key (401) as the relay's fault, without echoing the key", async () => {
    const table = await createTestTable();
    const deps = createDeps(
      loadConfig({
        RELAY_TABLE_NAME: table.tableName,
        DYNAMODB_ENDPOINT: table.endpoint,
        OPENAI_BASE_URL: sim.url,
        OPENAI_API_KEY: "wrong-key",
        OPENAI_API_KEY_HEADER: "api-key",
      }),
      { clock },
    );
    const { tenant } = await createTenant(deps.tenants, { name: "azure-bad" });
    const error = await submitJob(
      {
        tenant,
        body: { model: "m", input: "hi" },
        webhook: null,
        idempotencyKey: null,
        mode: "background",
        sdkRetry: false,
      },
      deps,
    ).catch((e) => e);
    expect(error).toBeInstanceOf(UpstreamAuthError);
    expect(error.message).not.toContain("wrong-key");
  });
});
