import { describe, expect, it } from 'vitest'
import { renderDigest, renderReport } from '../../../reports/html.ts'
import { escapeHtml, headerLine } from '../../../reports/escape.ts'
import type { ReportInput } from '../../../reports/model.ts'
import { HOSTILE, reportInput } from '../../support/report-input.ts'

const GRAFANA = 'https://grafana.example.com/d/qactivity-job?var-job=sq010-run2&from=1795428000000&to=1795431600000'

/** The `<tr>` of the HTML whose first cell is `label`. */
function rowOf(html: string, label: string): string {
  const row = html.split('<tr>').find((r) => r.includes(`>${label}</td>`))
  expect(row, `row ${label}`).toBeDefined()
  return row!
}

/** Every job-supplied string set to the hostile one. */
function hostileInput(): ReportInput {
  const input = reportInput({
    name: `render ${HOSTILE}`,
    labels: { [`k${HOSTILE}`]: `v${HOSTILE}` },
    paths: [`/render/${HOSTILE}`],
    comments: [{ at: '2026-11-23T10:10:00.000Z', author: `bob${HOSTILE}`, text: `look:\n${HOSTILE}` }],
  })
  input.job.id = `id${HOSTILE}`
  input.job.clients = [`10.0.0.1${HOSTILE}`]
  input.stats.topClients[0].client = `10.0.0.1${HOSTILE}`
  input.stats.capacity[0].error = `boom ${HOSTILE}`
  input.previous!.job.id = `prev${HOSTILE}`
  return input
}

describe('escapeHtml and headerLine', () => {
  it('escapes markup, quotes, = and backticks; keeps everything else', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`渲染</a>`)).toBe(
      '&lt;a href&#61;&quot;x&quot; onclick&#61;&#39;y&#39;&gt;&amp;&#96;渲染&lt;/a&gt;',
    )
  })

  it('makes one header line: no CR/LF or other controls, cut with an ellipsis', () => {
    expect(headerLine('a\r\nBcc: x@y\u0000z\u2028 end')).toBe('a Bcc: x@y z end')
    expect(headerLine('x'.repeat(300), 10)).toBe('xxxxxxxxx…')
  })
})

describe('job report HTML', () => {
  const input = reportInput({ grafanaUrl: GRAFANA })
  const r = renderReport(input, { images: 'cid' })

  it('shows the header, the totals and capacity in human units', () => {
    expect(r.html).toContain('>render-sq010</h1>')
    expect(r.html).toContain('>sq010-run2<')
    expect(r.html).toContain('show&#61;sq, shot&#61;010')
    expect(rowOf(r.html, 'IOPS read')).toContain('>1.80 M ops<')
    expect(rowOf(r.html, 'Metadata IOPS read')).toContain('>1.20 k ops/s<')
    expect(rowOf(r.html, 'Throughput read')).toContain('>838.2 GiB<')
    expect(rowOf(r.html, 'Throughput read')).toContain('>238.4 MiB/s<')
    expect(rowOf(r.html, '/render/sq010')).toContain('>+45.0 GiB<')
    expect(rowOf(r.html, '/render/sq010')).toContain('>+12,345<')
    expect(rowOf(r.html, '/render/sq010')).toContain('>2026-11-23 10:00:00Z → 11:00:01Z<')
    expect(r.html).toContain('Capacity is read when a path is attached and when the job is marked complete, not at a back-dated end time.')
    expect(r.html).toContain('>1h 00m<')
  })

  it('highlights deltas at or beyond the threshold (red up, green down) and no others', () => {
    // the runs differ in length (1h against 1h 10m): totals are marked as not like for like
    expect(rowOf(r.html, 'IOPS read, total')).toMatch(/data-tone="up">\+20\.0 % \*</) // exactly at 20 %
    expect(rowOf(r.html, 'Throughput read, total')).toMatch(/data-tone="down">-30\.0 % \*</)
    expect(rowOf(r.html, 'Metadata IOPS read, total')).toMatch(/data-tone="up">new \*</) // the previous run had none
    for (const below of ['IOPS write, total', 'Metadata IOPS write, total', 'Throughput write, total']) {
      expect(rowOf(r.html, below)).not.toContain('data-tone')
    }
    expect(rowOf(r.html, 'IOPS write, total')).toContain('>+5.0 % *<')
    expect(rowOf(r.html, 'Metadata IOPS write, total')).toContain('>0.0 %<') // no change is no change, whatever the scope
    expect(r.html).toContain('Δ % at or beyond ±20 % is highlighted')
    expect(r.html.match(/data-tone="up"/g)).toHaveLength(6) // IOPS read and metadata read: total, per second and peak
    expect(r.html.match(/data-tone="down"/g)).toHaveLength(3)
    expect(rowOf(r.html, 'IOPS read, peak')).toMatch(/>800 ops\/s<.*>667 ops\/s<.*>\+133 ops\/s<.*data-tone="up">\+20\.0 %</)
    // rates are not marked: same scope
    expect(rowOf(r.html, 'IOPS read, per second')).toMatch(/>500 ops\/s<.*>417 ops\/s<.*data-tone="up">\+20\.0 %</)
  })

  it('follows the threshold it is given', () => {
    const html = renderReport(reportInput({ thresholdPct: 50 }), { images: 'cid' }).html
    expect(rowOf(html, 'IOPS read, total')).not.toContain('data-tone')
    expect(rowOf(html, 'Throughput read, total')).not.toContain('data-tone')
  })

  it('lists the comments in time order with author and time', () => {
    const order = ['started with<br>frames 1-240', 'halfway: cache warm', 'done ✓'].map((t) => r.html.indexOf(t))
    expect(order.every((i) => i > 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(r.html).toMatch(/>alice<\/span> <span[^>]*>2026-11-23 10:00:05Z</)
  })

  it('references the charts by cid, or inlines them as data: URIs', () => {
    expect(r.images.map((i) => i.cid)).toEqual(['iops@qactivity', 'throughput@qactivity'])
    expect(r.html).toContain('src="cid:iops@qactivity"')
    expect(r.html).toContain('src="cid:throughput@qactivity"')
    const inline = renderReport(input, { images: 'inline' })
    expect(inline.html).not.toContain('cid:')
    expect(inline.html.match(/src="data:image\/png;base64,iVBORw0KGgo/g)).toHaveLength(2)
  })

  it('links Grafana only when set, and never to a non-http(s) URL', () => {
    expect(r.html).toContain(`<a href="${escapeHtml(GRAFANA)}"`)
    expect(r.html.match(/https?:\/\/[^\s"<>]*/g)).toEqual([escapeHtml(GRAFANA)])
    expect(r.text).toContain(GRAFANA)
    const without = renderReport(reportInput(), { images: 'cid' })
    expect(without.html).not.toContain('<a ')
    expect(without.html).not.toMatch(/https?:\/\//)
    const js = renderReport(reportInput({ grafanaUrl: 'javascript:alert(1)' }), { images: 'cid' })
    expect(js.html).not.toContain('javascript')
  })

  it('is mail-client safe: inline styles only, no scripts, no external resources', () => {
    expect(r.html).not.toMatch(/<style|<script|<link|<iframe|@import|url\(/i)
    expect([...r.html.matchAll(/src="([^"]*)"/g)].every((m) => m[1].startsWith('cid:'))).toBe(true)
  })

  it('writes a subject with the totals and the change against the previous run', () => {
    expect(r.subject).toBe('qactivity: render-sq010 succeeded — 7.02 M ops, 1.2 TiB (ops +196.7 %, bytes -23.3 % vs previous run)')
    expect(renderReport(reportInput({ previous: false }), { images: 'cid' }).subject).toBe(
      'qactivity: render-sq010 succeeded — 7.02 M ops, 1.2 TiB',
    )
  })

  it('has a plain-text version with the same content', () => {
    expect(r.text).toMatch(/^render-sq010\n=+\nStatus +succeeded\n/)
    expect(r.text).toContain('1.80 M ops')
    expect(r.text).toContain('838.2 GiB')
    expect(r.text).toMatch(/IOPS read, total +1\.80 M ops +1\.50 M ops +\+300 k ops +\+20\.0 % \* ▲/)
    expect(r.text).toMatch(/Throughput read, total .* -30\.0 % \* ▼/)
    expect(r.text.indexOf('alice')).toBeLessThan(r.text.indexOf('bob'))
    expect(r.text).toContain('  started with\n  frames 1-240')
  })
})

describe('hostile strings', () => {
  const r = renderReport(hostileInput(), { images: 'inline' })

  it('never reach the HTML unescaped', () => {
    expect(r.html).not.toMatch(/<script|<img src=x|onerror=/i)
    expect(r.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src&#61;x onerror&#61;alert(2)&gt; &amp; &#39;q&#39;')
    for (const where of [
      'render ',
      'k&lt;script',
      'v&lt;script',
      '/render/&lt;script',
      'bob&lt;script',
      'id&lt;script',
      '10.0.0.1&lt;script',
      'boom &lt;script',
      'prev&lt;script',
    ]) {
      expect(r.html, where).toContain(where)
    }
    expect(r.html).not.toMatch(/https?:\/\//)
  })

  it('never put CR/LF into the subject', () => {
    expect(r.subject).not.toMatch(/[\r\n]/)
    // the name is cut at 80 characters, CR/LF turned into a space
    expect(r.subject).toMatch(
      /^qactivity: render <script>alert\(1\)<\/script> "><img src=x onerror=alert\(2\)> & 'q' X-Inj\S*… succeeded — /,
    )
  })

  it('keep the plain text free of control characters but comments multi-line', () => {
    expect(r.text).not.toContain('\r')
    expect(r.text).toContain('render <script>alert(1)</script>')
    expect(r.text).toContain(`  look:\n  <script>alert(1)</script> "><img src=x onerror=alert(2)> & 'q'\n  X-Injected: yes`)
  })
})

describe('digest', () => {
  const first = reportInput({ grafanaUrl: GRAFANA })
  const second = hostileInput()
  second.previous = undefined
  const d = renderDigest(
    {
      since: new Date('2026-11-23T00:00:00Z'),
      until: new Date('2026-11-24T00:00:00Z'),
      reports: [first, second],
      generatedAt: new Date('2026-11-24T00:00:00Z'),
    },
    { images: 'cid' },
  )

  it('summarises every job in one table with its change against the previous run highlighted', () => {
    const summary = rowOf(d.html, 'render-sq010 (sq010-run2)')
    expect(summary).toContain('>7.02 M ops<')
    // the run is 10 minutes shorter than its previous one: its totals' changes are marked
    expect(summary).toMatch(/data-tone="up">\+196\.7 % \*</)
    expect(summary).toMatch(/data-tone="down">-23\.3 % \*</)
    expect(d.html).toContain('* Not like for like: the run&#39;s length, cluster, paths or clients differ from its previous run&#39;s')
    expect(d.html).toContain('render &lt;script&gt;')
    expect(d.html.indexOf('render-sq010')).toBeLessThan(d.html.indexOf('render &lt;script&gt;'))
  })

  it('adds a compact section per job without charts', () => {
    expect(d.images).toEqual([])
    expect(d.html).not.toContain('<img')
    expect(d.html.match(/>Activity<\/h2>/g)).toHaveLength(2)
    expect(rowOf(d.html, 'IOPS read')).toContain('>1.80 M ops<') // the first job's activity table
    expect(d.html).toContain('>IOPS read</td>') // compact comparison: totals only
    expect(d.html).not.toContain('IOPS read, peak')
  })

  it('escapes, keeps the subject on one line and links only Grafana', () => {
    expect(d.html).not.toMatch(/<script|onerror=/i)
    expect(d.html.match(/https?:\/\/[^\s"<>]*/g)).toEqual([escapeHtml(GRAFANA)])
    expect(d.subject).toBe('qactivity digest: 2 jobs completed 2026-11-23 00:00:00Z → 2026-11-24 00:00:00Z')
    expect(d.text).toContain('render-sq010 (sq010-run2)')
    expect(d.text).not.toContain('\r')
  })
})

describe('what a first reader trips over (issue #11)', () => {
  it('states the status once, in the badge, with "figures so far" while the job runs', () => {
    const done = renderReport(reportInput(), { images: 'cid' })
    expect(done.html.match(/>succeeded</g)).toHaveLength(1)
    expect(done.html).not.toContain('>Status<')
    const input = reportInput({ previous: false })
    input.job.status = 'running'
    input.stats.live = true
    const running = renderReport(input, { images: 'cid' })
    expect(running.html.match(/running \(figures so far\)/g)).toHaveLength(1)
    expect(running.text.match(/running \(figures so far\)/g)).toHaveLength(1)
  })

  it('lists the clients without a count that reads like part of the first address', () => {
    const input = reportInput()
    input.job.clients = ['10.0.1.0/28']
    expect(rowOf(renderReport(input, { images: 'cid' }).html, 'Clients')).toMatch(/>10\.0\.1\.0\/28<\/td>/)
  })

  it('writes powers in the units footer as superscripts, not carets', () => {
    const { html, text } = renderReport(reportInput(), { images: 'cid' })
    for (const out of [html, text]) {
      expect(out).not.toContain('^')
      expect(out).toContain('10³')
    }
  })

  it("sets the body in the charts' font (DejaVu Sans) first", () => {
    const { html } = renderReport(reportInput(), { images: 'cid' })
    const families = [...html.matchAll(/font-family:([^;"]+)/g)].map((m) => m[1])
    expect(families.length).toBeGreaterThan(10)
    for (const f of families) expect(f.split(',')[0]).toBe("'DejaVu Sans'")
  })

  it('lets the capacity spans wrap so the path column keeps its room', () => {
    const { html } = renderReport(reportInput(), { images: 'cid' })
    const row = rowOf(html, '/render/sq010')
    expect(row).toMatch(/min-width:128px;[^"]*">\/render\/sq010</)
    expect(row).toMatch(/text-align:right;(?!white-space)[^"]*">2026-11-23 10:00:00Z → 11:00:01Z</)
  })

  it('says next to the change when the runs watched different things, and shows per-second rates beside totals', () => {
    const input = reportInput()
    input.job.paths = [...input.job.paths, '/render/extra']
    input.previous!.job.cluster = 'qumulo-b'
    const { html, text } = renderReport(input, { images: 'cid' })
    expect(html).toContain('* Not like for like: cluster qumulo-b → qumulo-a; paths added: /render/extra; this run is 10m 00s shorter.')
    // with another scope, rates are marked too
    expect(rowOf(html, 'IOPS read, per second')).toMatch(/>500 ops\/s<.*>417 ops\/s<.*data-tone="up">\+20\.0 % \*</)
    expect(text).toMatch(/IOPS read, total .*\n.*IOPS read, per second .*\n.*IOPS read, peak /)
  })

  it('marks nothing when the runs are alike: same scope, same length', () => {
    const input = reportInput()
    input.previous!.stats.window.seconds = input.stats.window.seconds
    const { html } = renderReport(input, { images: 'cid' })
    expect(html).not.toContain('Not like for like')
    expect(html).not.toMatch(/ \*</)
    expect(rowOf(html, 'IOPS read, total')).toMatch(/data-tone="up">\+20\.0 %</)
  })
})
