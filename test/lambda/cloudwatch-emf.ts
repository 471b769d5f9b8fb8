/**
 * What CloudWatch Logs extracts from a log event as Embedded Metric Format, following AWS's EMF
 * specification: the event must be a JSON object (not a string holding one) with `_aws.Timestamp`
 * (epoch ms) and `_aws.CloudWatchMetrics` directives; every dimension named in a directive is a
 * top-level string member and every metric a top-level number (or array of numbers). Anything
 * else yields no metric, which is what happens to a console.log'd EMF line under Lambda's JSON
 * log format (the runtime stores it as a string inside "message").
 */
export interface ExtractedMetric {
  namespace: string;
  name: string;
  unit: string | undefined;
  values: number[];
  dimensions: Record<string, string>;
}

export function extractEmf(line: string): ExtractedMetric[] {
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return [];
  }
  if (!event || typeof event !== "object" || Array.isArray(event)) return [];
  const doc = event as Record<string, unknown>;
  const aws = doc._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || typeof aws.Timestamp !== "number" || !Array.isArray(aws.CloudWatchMetrics)) return [];
  const out: ExtractedMetric[] = [];
  for (const directive of aws.CloudWatchMetrics as Record<string, unknown>[]) {
    if (typeof directive.Namespace !== "string" || !Array.isArray(directive.Metrics)) continue;
    const sets = (Array.isArray(directive.Dimensions) ? directive.Dimensions : [[]]) as string[][];
    for (const metric of directive.Metrics as { Name?: unknown; Unit?: string }[]) {
      if (typeof metric.Name !== "string") continue;
      const raw = doc[metric.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === "number");
      if (values.length === 0) continue;
      for (const set of sets) {
        if (!set.every((d) => typeof doc[d] === "string")) continue;
        const dimensions = Object.fromEntries(set.map((d) => [d, doc[d] as string]));
        out.push({ namespace: directive.Namespace, name: metric.Name, unit: metric.Unit, values, dimensions });
      }
    }
  }
  return out;
}

export const extractAll = (stdout: string): ExtractedMetric[] => stdout.split("\n").flatMap(extractEmf);

/** Collects what is written to process.stdout while `fn` runs (where Powertools writes EMF). */
export async function captureStdout(fn: () => Promise<unknown>): Promise<string> {
  const original = process.stdout.write.bind(process.stdout);
  let captured = "";
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    captured += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return captured;
}
