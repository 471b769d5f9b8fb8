/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (the alias in
 * cdk/bundling.ts): every AWS SDK client's default credential chain, reduced to its first link.
 * In Lambda the execution role's credentials are always in the environment, so the rest of the
 * chain (SSO, profiles, web identity, container and instance metadata, with the STS and SSO
 * clients they build) never runs, yet it was 120 KB of every bundle
 * (docs/decisions/0012-bundle-diet.md). Source runs (tests, the local stack) keep the real chain.
 */

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One provider per client; the SDK caches what it returns (credentials without an expiry, for good). */
export const defaultProvider = () => async (): Promise<Credentials> => {
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey)
    throw new Error(
      "No AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): this bundle reads only " +
        "those, which Lambda sets from the function's role (functions/lambda-credentials.ts).",
    );
  const sessionToken = process.env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
};

/** The real module's other exports, with its meaning: credentials without an expiry never need a refresh. */
export const credentialsWillNeedRefresh = (credentials?: { expiration?: Date }) =>
  credentials?.expiration !== undefined;
export const credentialsTreatedAsExpired = (credentials?: { expiration?: Date }) =>
  credentials?.expiration !== undefined && credentials.expiration.getTime() - Date.now() < 300_000;
