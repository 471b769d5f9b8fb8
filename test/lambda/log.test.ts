import { describe, expect, it } from "vitest";
import { jsonLog, withLogContext } from "#shared/log.ts";
import { captureStdout } from "./cloudwatch-emf.ts";

describe("log lines", () => {
  it("are one JSON object each, with the ids of the request and job they were written in", async () => {
    const out = await captureStdout(async () => {
      await withLogContext({ requestId: "req_abc" }, async () => {
        await new Promise((r) => setTimeout(r, 5)); // the context survives awaits
        await withLogContext({ jobId: "resp_1" }, async () => jsonLog({ level: "info", msg: "advanced", step: 2 }));
      });
      jsonLog({ level: "info", msg: "outside" });
    });
    const [inside, outside] = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(inside).toMatchObject({
      level: "INFO",
      message: "advanced",
      service: "responses-relay",
      requestId: "req_abc",
      jobId: "resp_1",
      step: 2,
    });
    expect(outside.requestId).toBeUndefined();
  });

  it("never carry a secret: secret-named fields and secret-shaped values are masked", async () => {
    const out = await captureStdout(async () =>
      jsonLog({
        level: "info",
        msg: "upstream said: Incorrect API key provided: sk-proj-abcdefghijklmnop",
        headers: { authorization: "Bearer rr_0123456789abcdef", "content-type": "application/json" },
        webhookSecret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAA",
        note: "retrying with rr_0123456789abcdefgh",
      }),
    );
    expect(out).not.toMatch(/sk-proj-abc|rr_0123|whsec_AAAA/);
    const line = JSON.parse(out);
    expect(line.headers).toEqual({ authorization: "[redacted]", "content-type": "application/json" });
    expect(line.message).toContain("[redacted]");
  });
});
