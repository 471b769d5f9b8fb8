import { defineConfig } from "vitest/config";

// Tests run on Node 20 here (Lambda runs 22/24): the SDK's Node-version notice is known and only noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // One DynamoDB Local for the whole run; each test file makes its own table.
    globalSetup: ["test/support/global-setup.ts"],
    // 2 cores here and in CI: two workers keep the JVM and the suites from starving each other.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
