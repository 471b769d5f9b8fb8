/**
 * `npm run keys -- create <tenant name>` / `npm run keys -- revoke <key or sha256>`: manage relay
 * API keys in the table named by RELAY_TABLE_NAME (DynamoDB Local via DYNAMODB_ENDPOINT, or AWS).
 * Against AWS, region and credentials come from the AWS SDK's default chain, as for the AWS CLI:
 * AWS_REGION / AWS_PROFILE, the profile's region, SSO, environment credentials; never a fixed region.
 */
import { loadConfig } from "#shared/config.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoTenantStore } from "#shared/store/dynamo-tenant-store.ts";
import { addKey, createTenant, revokeKey } from "#shared/use-cases/manage-keys.ts";

async function main(argv: string[]) {
  const [command, arg] = argv;
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
    default:
      throw new Error("usage: keys create <tenant name> | add <tenant id> | revoke <api key or sha256>");
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
