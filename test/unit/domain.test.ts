import { describe, expect, it } from "vitest";
import { canTransition, isTerminal, JOB_STATUSES, reachedByOpenAIWebhooks } from "#shared/domain/job.ts";
import { statusLabel } from "#shared/domain/labels.ts";
import { costUsd, modelInfo } from "#shared/domain/models.ts";
import { backstopIntervalMs, pollIntervalMs, retryDelayMs } from "#shared/domain/polling.ts";
import { outputText } from "#shared/domain/response-view.ts";

describe("job lifecycle", () => {
  it("treats the five end states as absorbing", () => {
    for (const from of JOB_STATUSES.filter(isTerminal)) {
      for (const to of JOB_STATUSES) expect(canTransition(from, to), `${from} -> ${to}`).toBe(false);
    }
  });
  it("moves forward only", () => {
    expect(canTransition("queued", "in_progress")).toBe(true);
    expect(canTransition("queued", "completed")).toBe(true);
    expect(canTransition("in_progress", "cancelled")).toBe(true);
    expect(canTransition("in_progress", "queued")).toBe(false);
  });
});

describe("model catalog and cost", () => {
  it("prices gpt-5-pro at $15 in / $120 out per 1M tokens, dated snapshots included", () => {
    const info = modelInfo("gpt-5-pro-2025-10-06");
    expect(info.key).toBe("gpt-5-pro");
    expect(costUsd({ input_tokens: 1_000_000, output_tokens: 1_000_000, total_tokens: 2_000_000 }, info)).toBe(135);
    expect(costUsd({ input_tokens: 2000, output_tokens: 500, total_tokens: 2500 }, info)).toBeCloseTo(0.09, 10);
  });
  it("does not let gpt-5 match gpt-5-pro or the reverse", () => {
    expect(modelInfo("gpt-5").key).toBe("gpt-5");
    expect(modelInfo("gpt-5-pro").key).toBe("gpt-5-pro");
    expect(modelInfo("gpt-5-mini").key).toBe("gpt-5-mini");
  });
  it("prices cached input at the cached rate", () => {
    const info = modelInfo("o3-deep-research");
    const usage = {
      input_tokens: 1_000_000,
      input_tokens_details: { cached_tokens: 400_000 },
      output_tokens: 0,
      total_tokens: 1_000_000,
    };
    expect(costUsd(usage, info)).toBeCloseTo(0.6 * 10 + 0.4 * 2.5, 10);
  });
  it("gives no cost for unknown models or missing usage", () => {
    expect(costUsd({ input_tokens: 10, output_tokens: 10, total_tokens: 20 }, modelInfo("my-finetune"))).toBeNull();
    expect(costUsd(null, modelInfo("gpt-5-pro"))).toBeNull();
    expect(modelInfo("my-finetune").deadlineSeconds).toBeGreaterThan(0);
  });
});

describe("poll intervals", () => {
  it("starts short, grows while nothing changes, and is capped", () => {
    expect(pollIntervalMs(0)).toBe(1000);
    expect(pollIntervalMs(30_000)).toBe(6000);
    expect(pollIntervalMs(3_600_000)).toBe(20_000);
  });
  it("keeps push backstops 2 to 5 minutes apart: two polls for a 5-minute job, about eight for 30", () => {
    const looks = (jobMs: number) => {
      let at = 0;
      let n = 0;
      while ((at += backstopIntervalMs(at)) < jobMs) n++;
      return n;
    };
    expect(backstopIntervalMs(0)).toBe(120_000);
    expect(backstopIntervalMs(3_600_000)).toBe(300_000);
    expect(looks(300_000)).toBe(2);
    expect(looks(1_800_000)).toBeLessThanOrEqual(9);
  });
  it("labels a job watched by OpenAI's webhooks as such, and only while it runs", () => {
    const job = { createState: "done", lastUpstreamError: null, upstreamCancelPending: false } as const;
    expect(statusLabel({ ...job, status: "in_progress", watch: "push" })).toBe(
      "running in background mode, watched by OpenAI's webhooks…",
    );
    expect(statusLabel({ ...job, status: "in_progress", watch: "poll" })).toBe("running in background mode…");
    expect(statusLabel({ ...job, status: "completed", watch: "push" })).toBe("completed");
  });
  it("labels a job watched on its upstream stream as such, queued or running", () => {
    const job = { createState: "done", lastUpstreamError: null, upstreamCancelPending: false } as const;
    expect(statusLabel({ ...job, status: "queued", watch: "stream" })).toBe(
      "background mode (queued), watched live on its upstream stream…",
    );
    expect(statusLabel({ ...job, status: "in_progress", watch: "stream" })).toBe(
      "running in background mode, watched live on its upstream stream…",
    );
    expect(statusLabel({ ...job, status: "in_progress", watch: null })).toBe("running in background mode…");
  });
  it("reaches only the primary upstream's responses with OpenAI's webhooks", () => {
    expect(reachedByOpenAIWebhooks({ upstreamId: "resp_abc" })).toBe(true);
    expect(reachedByOpenAIWebhooks({ upstreamId: "ollama:resp_abc" })).toBe(false);
    expect(reachedByOpenAIWebhooks({ upstreamId: null })).toBe(false);
  });
  it("backs off exponentially with jitter and never under Retry-After", () => {
    const mid = () => 0.5;
    expect(retryDelayMs(1, null, mid)).toBe(1000);
    expect(retryDelayMs(3, null, mid)).toBe(4000);
    expect(retryDelayMs(20, null, mid)).toBe(30_000);
    expect(retryDelayMs(1, 7000, mid)).toBe(7000);
    expect(retryDelayMs(1, null, () => 0)).toBe(800);
    expect(retryDelayMs(1, null, () => 1)).toBe(1200);
  });
});

describe("output_text", () => {
  it("joins the text parts of message items only", () => {
    const output = [
      { type: "reasoning", summary: [] },
      {
        type: "message",
        content: [
          { type: "output_text", text: "Hello, " },
          { type: "refusal", refusal: "x" },
        ],
      },
      { type: "message", content: [{ type: "output_text", text: "world" }] },
    ];
    expect(outputText(output)).toBe("Hello, world");
  });
});
