/**
 * Poller capacity: N jobs pending (in_progress upstream for an hour), one poller invocation in its
 * own process polling all of them, the simulator at zero added latency. Jobs are written straight
 * into the table through the job store (HTTP submits would take minutes at 10k), each backed by a
 * real upstream response in the simulator.
 */
import { runWorkerProcess } from "#bench/lib/worker-process.ts";
import { fileURLToPath } from "node:url";
import { EMPTY_JOB_FIELDS, type Job } from "#shared/domain/job.ts";
import { modelInfo } from "#shared/domain/models.ts";
import { newJobId } from "#shared/ids.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";
import { startSimulator } from "#local/simulator/index.ts";
import { createTable } from "#bench/lib/stack.ts";
import { mapLimited, round } from "#bench/lib/stats.ts";
import { JOB_ID_METADATA_KEY } from "#shared/domain/job.ts";

export interface CapacitySettings {
  pendingJobs: number;
  /** One invocation per level, over the same pending jobs. */
  concurrency: number[];
  passes: number;
}

export interface CapacityResult {
  pendingJobs: number;
  concurrency: number;
  /** First tick of an invocation: due index, one read per job, one upstream GET per job. */
  coldPass: { ms: number; pollsPerSecond: number };
  /** Later ticks: upstream GETs only (each job's copy is in memory). Median over passes. */
  warmPollsPerSecond: number;
  warmPasses: { advanced: number; ms: number; pollsPerSecond: number }[];
  memory: {
    baselineRssMb: number;
    peakRssMb: number;
    baselineHeapMb: number;
    peakHeapMb: number;
    retainedHeapMb: number;
  };
  setupSeconds: number;
  errors: number;
}

const WORKER = fileURLToPath(new URL("../capacity-worker.ts", import.meta.url));

export async function runCapacity(
  dynamoEndpoint: string,
  s: CapacitySettings,
  progress: (msg: string) => void = () => {},
): Promise<CapacityResult[]> {
  const setupStarted = Date.now();
  const sim = await startSimulator({ behaviour: { queuedMs: 0, runMs: 3_600_000, outputBytes: 200, latencyMs: 0 } });
  const tableName = await createTable(dynamoEndpoint, "bench-capacity");
  const { doc, client } = createDynamoClients({ endpoint: dynamoEndpoint });
  const store = new DynamoJobStore({ doc, tableName });
  try {
    const now = Date.now();
    const info = modelInfo("gpt-5-pro");
    await mapLimited(
      Array.from({ length: s.pendingJobs }, (_, i) => i),
      32,
      async (i) => {
        const id = newJobId(now);
        const request = {
          model: "gpt-5-pro",
          input: `capacity ${i}`,
          background: true,
          store: true,
          metadata: { [JOB_ID_METADATA_KEY]: id },
        };
        const upstream = await fetch(`${sim.url}/responses`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
          body: JSON.stringify(request),
        });
        if (upstream.status !== 200) throw new Error(`simulator create failed: ${upstream.status}`);
        const response = (await upstream.json()) as { id: string; status: string };
        await store.create(pendingJob(id, now, response.id, info), request, now);
      },
    );
    const setupSeconds = round((Date.now() - setupStarted) / 1000, 1);

    const results: CapacityResult[] = [];
    for (const concurrency of s.concurrency) {
      progress(`poller capacity, ${s.pendingJobs} pending jobs, concurrency ${concurrency}`);
      // Each invocation finds every job due: the previous one wrote nothing (no status changed) and released its leases.
      const out = await runWorker({
        BENCH_TABLE: tableName,
        BENCH_DYNAMO: dynamoEndpoint,
        BENCH_UPSTREAM: sim.url,
        BENCH_PASSES: String(s.passes),
        BENCH_CONCURRENCY: String(concurrency),
        BENCH_EXPECTED: String(s.pendingJobs),
      });
      if (out.cold.advanced !== s.pendingJobs)
        throw new Error(
          `the poller advanced ${out.cold.advanced} of ${s.pendingJobs} jobs on its first tick (${out.errors} errors; first: ${out.firstError})`,
        );
      results.push({
        pendingJobs: s.pendingJobs,
        concurrency,
        coldPass: { ms: out.cold.ms, pollsPerSecond: out.cold.pollsPerSecond },
        warmPollsPerSecond: out.warm.medianPollsPerSecond,
        warmPasses: out.warm.passes,
        memory: out.memory,
        setupSeconds,
        errors: out.errors,
      });
    }
    return results;
  } finally {
    client.destroy();
    await sim.close();
  }
}

function pendingJob(id: string, now: number, upstreamId: string, info: ReturnType<typeof modelInfo>): Job {
  return {
    ...EMPTY_JOB_FIELDS,
    id,
    tenantId: "ten_capacity",
    status: "in_progress",
    version: 1,
    model: "gpt-5-pro",
    createdAt: now,
    updatedAt: now,
    statusChangedAt: now,
    deadlineAt: now + info.deadlineSeconds * 1000,
    queuedDeadlineAt: now + info.queuedLimitSeconds * 1000,
    createState: "done",
    createAttempts: 1,
    upstreamId,
    upstreamStatus: "in_progress",
    request: { chunks: 0, bytes: 0, sha256: "" },
  };
}

function runWorker(env: Record<string, string>): Promise<any> {
  return runWorkerProcess(WORKER, "capacity", env);
}
