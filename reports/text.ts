import { formatTime } from '../lib/units.ts'
import { legendText, type Cell, type DigestContent, type ReportContent, type Section, type TableSection } from './content.ts'
import { headerLine } from './escape.ts'

/** The plain-text alternative of a report e-mail, drawn from the same content as the HTML. */

const MARK = { up: '▲', down: '▼' } as const

/** One line of user text: control characters (CR/LF included) become spaces. */
const line = (s: string) => headerLine(s, 10_000)

/** Multi-line user text: newlines kept, other control characters become spaces. */
const paragraph = (s: string) => s.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')

const width = (s: string) => [...s].length

function cellText(c: Cell): string {
  return line(c.text) + (c.tone ? ` ${MARK[c.tone]}` : '')
}

function tableText(t: TableSection): string[] {
  const rows = [t.columns.map((c) => c.label), ...t.rows.map((r) => r.map(cellText))]
  const widths = t.columns.map((_, i) => Math.max(...rows.map((r) => width(r[i] ?? ''))))
  const pad = (s: string, i: number) => {
    const fill = ' '.repeat(widths[i] - width(s))
    return t.columns[i].align === 'right' ? fill + s : s + fill
  }
  const out = t.intro ? [line(t.intro)] : []
  out.push(...rows.map((r) => r.map(pad).join('  ').trimEnd()))
  if (t.note) out.push(line(t.note))
  if (t.thresholdPct !== undefined) {
    const l = legendText(t.thresholdPct)
    out.push(`${l.before}${MARK.up} ${l.red}${l.middle}${MARK.down} ${l.green}${l.after}`)
  }
  return out
}

function sectionText(s: Section): string[] {
  const title = s.title.toUpperCase()
  if (s.kind === 'table') return [title, ...tableText(s)]
  if (s.kind === 'charts') return [title, '(charts in the HTML version and the PDF)']
  const comments = s.comments.map((c) => [
    `${formatTime(c.at)}  ${line(c.author)}`,
    ...paragraph(c.text)
      .split('\n')
      .map((l) => `  ${l}`.trimEnd()),
  ])
  return [title, ...comments.flatMap((lines, i) => (i ? ['', ...lines] : lines))]
}

function jobText(c: ReportContent, underline: string): string[] {
  const title = line(c.name)
  const keyWidth = Math.max(...c.facts.map(([k]) => k.length), 'Grafana'.length)
  return [
    title,
    underline.repeat(Math.max(3, width(title))),
    `${'Status'.padEnd(keyWidth)}  ${c.statusText}`,
    ...c.facts.map(([k, v]) => `${k.padEnd(keyWidth)}  ${line(v)}`),
    ...(c.grafanaUrl ? [`${'Grafana'.padEnd(keyWidth)}  ${c.grafanaUrl}`] : []),
    '',
    ...c.sections.flatMap((s) => [...sectionText(s), '']),
  ]
}

/** The plain text of a job report. */
export function reportText(c: ReportContent): string {
  return [...jobText(c, '='), c.footer, ''].join('\n')
}

/** The plain text of a digest. */
export function digestText(d: DigestContent): string {
  return [
    d.title,
    '='.repeat(width(d.title)),
    d.intro,
    ...(d.grafanaUrl ? [`Grafana: ${d.grafanaUrl}`] : []),
    '',
    ...sectionText(d.summary),
    '',
    ...d.jobs.flatMap((j) => jobText(j, '-')),
    d.footer,
    '',
  ].join('\n')
}
