import { createApp } from "#shared/http/app.ts";
import type { Runtime } from "./bootstrap.ts";

type App = ReturnType<typeof createApp>;

/**
 * The Hono app for the current OpenAI webhook secret: rebuilt (cheaply, no I/O) when a refreshed
 * read of the secret differs from the one the app was built with, so a rotation takes effect in
 * warm functions. A missing or malformed secret builds the app with that endpoint switched off.
 */
export function currentApp({ config, secrets, deps }: Runtime): () => Promise<App> {
  let built: { secret: string | undefined; app: App } | null = null;
  return async () => {
    const secret = await secrets.get("openai-webhook-secret");
    if (!built || built.secret !== secret)
      built = { secret, app: createApp(deps, { maxBodyBytes: config.maxBodyBytes, openaiWebhookSecret: secret }) };
    return built.app;
  };
}
