/** The benchmark table every `npm run bench:*` prints: benchmark | figure | goal | met. */
const rows: Array<[string, string, string, string]> = []

/** Adds a row; `ok` undefined means the row has no goal. */
export function row(what: string, figure: string, goal: string, ok: boolean | undefined): void {
  rows.push([what, figure, goal, ok === undefined ? '—' : ok ? 'yes' : 'NO'])
}

/** The `q` quantile (0–1) of `xs` by the nearest-rank method: the median is `quantile(xs, 0.5)`. */
export const quantile = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]

/** Prints the rows as a markdown table. */
export function printTable(): void {
  const header: [string, string, string, string] = ['benchmark', 'figure', 'goal', 'met']
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[header, ...rows].map((r) => r[i].length)))
  const fmt = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |'
  console.log(fmt(header))
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
  for (const r of rows) console.log(fmt(r))
}
