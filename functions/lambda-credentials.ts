import { fromEnv } from "@aws-sdk/credential-provider-env";

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (the alias in
 * cdk/bundling.ts): every AWS SDK client's default credential chain, reduced to its first link,
 * the SDK's own environment provider. In Lambda the execution role's credentials are always in the
 * environment, so the rest of the chain (SSO, profiles, web identity, container and instance
 * metadata, with the STS and SSO clients they build) never runs, yet it was 120 KB of every bundle
 * (docs/decisions/0012-bundle-diet.md). Source runs (tests, the local stack) keep the real chain.
 */
export const defaultProvider = (init?: Parameters<typeof fromEnv>[0]) => fromEnv(init);

/** The real module's other exports, with its meaning: credentials without an expiry never need a refresh. */
export const credentialsWillNeedRefresh = (credentials?: { expiration?: Date }) =>
  credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials?: { expiration?: Date }) =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
