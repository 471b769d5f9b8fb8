/**
 * `npm run keys -- create <tenant name>` / `npm run keys -- revoke <key or sha256>` /
 * `npm run keys -- limits <tenant id> [--requests-per-minute N] [--pending-jobs N] [--streams N]
 * [--blocking-waits N] [--monthly-spend-usd N|none]`: manage relay API keys and tenants' limits
 * in the table named by RELAY_TABLE_NAME (DynamoDB Local via DYNAMODB_ENDPOINT, or AWS).
 * Against AWS, region and credentials come from the AWS SDK's default chain, as for the AWS CLI:
 * AWS_REGION / AWS_PROFILE, the profile's region, SSO, environment credentials; never a fixed region.
 */
import { loadConfig } from "#shared/config.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { parseArgs } from "node:util";
import type { TenantLimits } from "#shared/domain/tenant-limits.ts";
import { addKey, createTenant, revokeKey, setLimits } from "#shared/use-cases/manage-keys.ts";

const LIMIT_FLAGS = {
  "requests-per-minute": "requestsPerMinute",
  "pending-jobs": "pendingJobs",
  streams: "streams",
  "blocking-waits": "blockingWaits",
  "monthly-spend-usd": "monthlySpendUsd",
} as const;

function limitChanges(args: string[]): Partial<TenantLimits> {
  const { values } = parseArgs({
    args,
    options: Object.fromEntries(Object.keys(LIMIT_FLAGS).map((flag) => [flag, { type: "string" as const }])),
  });
  const changes: Record<string, number | null> = {};
  for (const [flag, name] of Object.entries(LIMIT_FLAGS)) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    if (name === "monthlySpendUsd" && raw === "none") changes[name] = null;
    else if (raw.trim() === "" || !Number.isFinite(Number(raw))) throw new Error(`--${flag} must be a number`);
    else changes[name] = Number(raw);
  }
  return changes as Partial<TenantLimits>;
}

async function main(argv: string[]) {
  const [command, arg, ...rest] = argv;
  const config = loadConfig();
  const { doc } = createDynamoClients({ endpoint: config.dynamoEndpoint, region: config.region });
  const tenants = new DynamoTenantStore({ doc, tableName: config.tableName });
  switch (command) {
    case "create": {
      if (!arg) throw new Error("usage: keys create <tenant name>");
      const { tenant, apiKey } = await createTenant(tenants, { name: arg });
      console.log(
        JSON.stringify({ tenant_id: tenant.id, api_key: apiKey, webhook_secret: tenant.webhookSecrets[0] }, null, 2),
      );
      console.log("Keep the API key now: only its hash is stored.");
      return;
    }
    case "add": {
      if (!arg) throw new Error("usage: keys add <tenant id>");
      if (!(await tenants.getTenant(arg))) throw new Error(`no tenant ${arg}`);
      console.log(JSON.stringify({ tenant_id: arg, api_key: await addKey(tenants, arg) }, null, 2));
      return;
    }
    case "revoke": {
      if (!arg) throw new Error("usage: keys revoke <api key or its sha256>");
      console.log((await revokeKey(tenants, arg)) ? "revoked" : "no such key");
      return;
    }
    case "limits": {
      if (!arg)
        throw new Error(
          `usage: keys limits <tenant id> [${Object.keys(LIMIT_FLAGS)
            .map((f) => `--${f} N`)
            .join("] [")}]`,
        );
      const limits = await setLimits(tenants, arg, limitChanges(rest));
      console.log(JSON.stringify({ tenant_id: arg, limits }, null, 2));
      return;
    }
    default:
      throw new Error(
        "usage: keys create <tenant name> | add <tenant id> | revoke <api key or sha256> | limits <tenant id> [--flag N …]",
      );
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
