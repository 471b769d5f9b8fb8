/** Runs `fn` over `items` with at most `limit` in flight. Errors are the callback's to handle. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    // Claim the index synchronously (no await between the check and the increment), so it is in range.
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
