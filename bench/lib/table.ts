/** Plain-text tables for the terminal: a header row, a rule, left-aligned first column, right-aligned rest. */
export function table(title: string, header: string[], rows: (string | number)[][], note?: string): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [`\n${title}`, line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)];
  if (note) out.push(...note.split("\n").map((l) => `  ${l}`));
  return out.join("\n");
}

export const ms = (v: number): string =>
  !Number.isFinite(v)
    ? "—"
    : v >= 10_000
      ? `${(v / 1000).toFixed(1)} s`
      : v >= 1000
        ? `${(v / 1000).toFixed(2)} s`
        : `${Math.round(v)} ms`;
export const pair = (a: string, b: string): string => `${a} / ${b}`;
export const num = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : "—");
export const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
