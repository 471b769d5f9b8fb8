/**
 * A relay process that dies between a status write and the moment it would have published the
 * event: it records a job and its move to in_progress, then SIGKILLs itself at once.
 *   node --import tsx test/events/write-then-die.ts   (env: DIE_DYNAMO, DIE_TABLE, DIE_JOB)
 */
import { EMPTY_JOB_FIELDS, type Job } from "#shared/domain/job.ts";
import { createDynamoClients } from "#shared/store/dynamo-client.ts";
import { DynamoJobStore } from "#shared/store/dynamo-job-store.ts";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { doc } = createDynamoClients({ endpoint: process.env.DIE_DYNAMO! });
const jobs = new DynamoJobStore({ doc, tableName: process.env.DIE_TABLE! });
const now = Date.now();
const job: Job = {
  ...EMPTY_JOB_FIELDS,
  id: process.env.DIE_JOB!,
  tenantId: "ten_die",
  status: "queued",
  version: 1,
  model: "gpt-5-pro",
  metadata: {},
  createdAt: now,
  updatedAt: now,
  statusChangedAt: now,
  deadlineAt: now + 3_600_000,
  queuedDeadlineAt: now + 600_000,
  createState: "done",
  upstreamId: "resp_upstream_die",
  webhook: null,
  idempotencyKey: null,
  request: { chunks: 0, bytes: 0, sha256: "" },
};
const created = await jobs.create(job, { model: "gpt-5-pro", input: "x" }, now);
if (!created.created) throw new Error("not created");
await jobs.update(created.job, { status: "in_progress", updatedAt: now + 1, statusChangedAt: now + 1 }, now + 1000);
process.stdout.write("written\n");
process.kill(process.pid, "SIGKILL");
