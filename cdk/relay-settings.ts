/**
 * Runtime settings the stack gives the functions, kept free of aws-cdk-lib so the bundle test runs
 * the bundles with the same values without loading the CDK.
 */

/** Shards of the due index. Writers (http-api) and the poller must agree, so it is set here once. */
export const DUE_SHARDS = 8;

/** Poller tick (ms): how often due jobs are looked at within one invocation. */
export const POLL_TICK_MS = 2_000;

/** The HTTP API stage throttle: a flood of bad keys or submits is stopped before Lambda is billed. */
export const API_THROTTLE = { rateLimit: 50, burstLimit: 100 } as const;

/** Poller lag (seconds) that pages: job intervals are capped at tens of seconds, so minutes mean stuck. */
export const OLDEST_DUE_AGE_ALARM_SECONDS = 180;
