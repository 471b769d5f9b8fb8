import type { RelayConfig } from "#shared/config.ts";

/**
 * Secrets come from Secrets Manager in AWS (never plain environment variables), read once at cold
 * start. Locally they come from the environment and this returns what config already holds.
 */
export async function readSecrets(
  config: RelayConfig,
): Promise<{ openaiApiKey?: string; openaiWebhookSecret?: string }> {
  if (!config.openai.apiKeySecretArn && !config.openaiWebhookSecretArn) {
    return { openaiApiKey: config.openai.apiKey, openaiWebhookSecret: config.openaiWebhookSecret };
  }
  const { SecretsManagerClient, GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({ region: config.region });
  const read = async (arn: string | undefined) =>
    arn
      ? (await client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString?.trim() || undefined
      : undefined;
  // The OpenAI webhook secret is optional: a secret the operator never filled in means "disabled",
  // not a failed cold start. The API key is required and its absence fails loudly.
  const optional = (arn: string | undefined) =>
    read(arn).catch((error: { name?: string }) => {
      if (error?.name === "ResourceNotFoundException") return undefined;
      throw error;
    });
  const [openaiApiKey, openaiWebhookSecret] = await Promise.all([
    read(config.openai.apiKeySecretArn),
    optional(config.openaiWebhookSecretArn),
  ]);
  return {
    openaiApiKey: openaiApiKey ?? config.openai.apiKey,
    openaiWebhookSecret: openaiWebhookSecret ?? config.openaiWebhookSecret,
  };
}
