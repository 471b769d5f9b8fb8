import { availableParallelism } from "node:os";
import { configDefaults, defineConfig } from "vitest/config";

// Tests run on Node 20 here (Lambda runs 22/24): the SDK's Node-version notice is known and only noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * Three tiers, chosen by path so a new file lands somewhere without anyone listing it:
 * - unit: `test/unit/**` and any `*.unit.test.ts` elsewhere. No I/O at all (no DynamoDB Local, so
 *   no Java; no sockets): pure functions and in-memory objects. `npm run test:unit`, seconds.
 * - drills: `test/drills/**` (long fault drills). `npm run test:drills`.
 * - integration: every other `test/**\/*.test.ts` (the default for a new file), against DynamoDB
 *   Local, the simulator and real HTTP on 127.0.0.1.
 * `npm test` runs all three: unit and integration together, then the drills.
 */
const UNIT = ["test/unit/**/*.test.ts", "test/**/*.unit.test.ts"];
const DRILLS = ["test/drills/**/*.test.ts"];
/** One DynamoDB Local for the whole run; each test file makes its own table. */
const DYNAMODB_LOCAL = ["test/support/global-setup.ts"];

export default defineConfig({
  test: {
    // Sized from the machine (2 cores here and in CI); the JVM and the suites share those cores.
    maxWorkers: Math.max(1, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: "unit", include: UNIT, setupFiles: ["test/support/no-network.ts"] } },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...UNIT, ...DRILLS],
          globalSetup: DYNAMODB_LOCAL,
        },
      },
      {
        extends: true,
        test: {
          name: "drills",
          include: DRILLS,
          // After the other tiers, not beside them: the drills measure whole-system behaviour in
          // real time (kills, bursts), and sharing 2 cores with the integration tier made them
          // miss their bounds.
          sequence: { groupOrder: 1 },
          // One at a time, for the same reason: two drills side by side on 2 cores each run at
          // half speed and miss their real-time bounds.
          fileParallelism: false,
          exclude: [...configDefaults.exclude, ...UNIT],
          globalSetup: DYNAMODB_LOCAL,
        },
      },
    ],
  },
});
