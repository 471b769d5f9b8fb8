import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { Log } from "#shared/log.ts";
import { METRIC, type Metrics } from "#shared/metrics.ts";
import { secretProblem, type SecretName } from "./secret-checks.ts";

export interface SecretSourceOptions {
  /** Secret ARNs by name; a name without one takes its value from `fallback` (the local stack). */
  arns: Partial<Record<SecretName, string>>;
  fallback?: Partial<Record<SecretName, string>>;
  region?: string;
  /** Secrets Manager endpoint (a moto server in tests); unset in AWS. */
  endpoint?: string;
  /** How long a value read is used before it is read again: a rotation takes effect within it. */
  maxAgeSeconds?: number;
  log: Log;
  metrics: Metrics;
}

/** Five minutes: a revoked OpenAI key is out of every warm function within that. */
const SECRET_MAX_AGE_SECONDS = 300;
/** After a failed read (no value yet, throttled), the next try waits this long. */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * The operator's secrets, read from Secrets Manager through Powertools Parameters with a max age,
 * so warm functions pick up a rotation within minutes. Each value is checked when it is read: a
 * missing or malformed one logs one error line naming the secret and why (never the value) and
 * counts a SecretInvalid metric, then reads as undefined, which switches off only what needs it.
 */
export class SecretSource {
  readonly #options: SecretSourceOptions;
  readonly #provider: SecretsProvider | null;
  readonly #failedAt = new Map<SecretName, number>();
  readonly #reported = new Map<SecretName, string>();

  constructor(options: SecretSourceOptions) {
    this.#options = options;
    this.#provider = Object.values(options.arns).some(Boolean)
      ? new SecretsProvider({
          awsSdkV3Client: new SecretsManagerClient({ region: options.region, endpoint: options.endpoint }),
        })
      : null;
  }

  async get(name: SecretName): Promise<string | undefined> {
    const arn = this.#options.arns[name];
    if (!arn || !this.#provider) return this.#check(name, this.#options.fallback?.[name]?.trim() || undefined);
    const failedAt = this.#failedAt.get(name);
    if (failedAt !== undefined && Date.now() - failedAt < RETRY_AFTER_FAILURE_MS) return undefined;
    try {
      const raw = await this.#provider.get(arn, { maxAge: this.#options.maxAgeSeconds ?? SECRET_MAX_AGE_SECONDS });
      this.#failedAt.delete(name);
      return this.#check(name, typeof raw === "string" ? raw.trim() || undefined : undefined);
    } catch (error) {
      this.#failedAt.set(name, Date.now());
      // A secret created by the stack has no value until the operator puts one.
      const cause = (error as { cause?: { name?: string } }).cause?.name ?? (error as Error).name;
      this.#report(name, `could not be read (${cause})`);
      return undefined;
    }
  }

  #check(name: SecretName, value: string | undefined): string | undefined {
    if (value === undefined) {
      if (this.#options.arns[name]) this.#report(name, "has no value");
      return undefined;
    }
    const problem = secretProblem(name, value);
    if (problem) {
      this.#report(name, problem);
      return undefined;
    }
    if (this.#reported.has(name)) {
      this.#reported.delete(name);
      this.#options.log({ level: "info", msg: "secret usable again", setting: name });
    }
    return value;
  }

  /** One line and one metric per distinct problem, not per request that meets it. */
  #report(name: SecretName, problem: string): void {
    this.#options.metrics.emit(METRIC.secretInvalid, 1, "Count");
    if (this.#reported.get(name) === problem) return;
    this.#reported.set(name, problem);
    const feature =
      name === "openai-webhook-secret" ? "OpenAI webhooks are off" : "upstream calls fail until it is fixed";
    this.#options.log({ level: "error", msg: `secret ${name} ${problem}; ${feature}`, setting: name, problem });
  }
}
