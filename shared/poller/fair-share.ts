/**
 * Orders a tick's due work so that tenants take turns: the first item of every tenant, then the
 * second of every tenant, and so on, each tenant's own items kept in their given (most overdue
 * first) order. The lanes start work in this order, so a tenant with a thousand due jobs delays
 * another tenant's first poll by at most one item per tenant, not by a thousand.
 *
 * Items whose tenant is not known yet (a job just found in the due index, not read) share one
 * turn of their own: they are mostly new jobs, and new jobs should not wait behind a backlog.
 */
export function fairShare<T>(items: readonly T[], tenantOf: (item: T) => string | undefined): T[] {
  const byTenant = new Map<string, T[]>();
  for (const item of items) {
    const tenant = tenantOf(item) ?? "";
    let queue = byTenant.get(tenant);
    if (!queue) byTenant.set(tenant, (queue = []));
    queue.push(item);
  }
  if (byTenant.size <= 1) return [...items];
  const queues = [...byTenant.values()];
  const ordered: T[] = [];
  for (let round = 0; ordered.length < items.length; round++)
    for (const queue of queues) if (round < queue.length) ordered.push(queue[round]!);
  return ordered;
}
