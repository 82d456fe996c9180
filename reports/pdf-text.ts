/**
 * Line breaking and drawing of text in the PDF with font fallback. DejaVu Sans covers Latin, Greek,
 * Cyrillic and most symbols but no CJK, so characters it lacks are set in a fallback font when one
 * is installed (e.g. Droid Sans Fallback), run by run on the same baseline. We break lines ourselves
 * (pdfkit's wrapper knows one font per call), which also lets the report paginate line by line.
 */

/** Registered pdfkit font names. */
export interface FontSet {
  regular: string
  bold: string
  /** for characters the two above lack */
  fallback?: string
}

export interface TextStyle {
  /** points */
  size: number
  bold?: boolean
  /** @defaultValue '#1f2937' */
  color?: string
}

interface Run {
  font: string
  text: string
  /** points at size 1 */
  width: number
}

/** One laid-out line: runs of one font each. */
export interface TextLine {
  runs: Run[]
  /** points at size 1 */
  width: number
}

interface Glyph {
  ch: string
  font: string
  width: number
}

/** Where a line may break after a character: spaces, path separators and punctuation, and any CJK character. */
const breaksAfter = (ch: string) => /[\s/\\\-_,.;:|]/.test(ch) || ch.codePointAt(0)! >= 0x2e80
const isSpace = (ch: string) => /\s/.test(ch)

/** Font internals pdfkit does not type: the fontkit font behind an embedded font. */
type FontkitFace = { hasGlyphForCodePoint?: (cp: number) => boolean }

/** Measures, breaks and draws text for one document, with per-character font fallback. */
export class TextSetter {
  private readonly covers = new Map<string, (cp: number) => boolean>()
  private readonly widths = new Map<string, number>()

  constructor(
    private readonly doc: PDFKit.PDFDocument,
    private readonly fonts: FontSet,
  ) {
    for (const f of [fonts.regular, fonts.bold, fonts.fallback]) if (f) this.covers.set(f, this.coverage(f))
  }

  private coverage(font: string): (cp: number) => boolean {
    this.doc.font(font)
    const face = (this.doc as unknown as { _font?: { font?: FontkitFace } })._font?.font
    const has = face?.hasGlyphForCodePoint?.bind(face)
    // should pdfkit ever hide fontkit, every font claims every glyph: no fallback, nothing breaks
    return has ? (cp) => has(cp) : () => true
  }

  /** Line height in points for a font size. */
  lineHeight(size: number): number {
    return size * 1.3
  }

  private glyph(ch: string, bold: boolean): Glyph {
    const main = bold ? this.fonts.bold : this.fonts.regular
    const cp = ch.codePointAt(0)!
    const fb = this.fonts.fallback
    const font = isSpace(ch) || this.covers.get(main)!(cp) || !fb || !this.covers.get(fb)!(cp) ? main : fb
    const key = `${font}\u0000${ch}`
    let width = this.widths.get(key)
    if (width === undefined) {
      width = this.doc.font(font).fontSize(1).widthOfString(ch)
      this.widths.set(key, width)
    }
    return { ch, font, width }
  }

  private line(glyphs: Glyph[]): TextLine {
    let end = glyphs.length
    while (end > 0 && isSpace(glyphs[end - 1].ch)) end--
    const runs: Run[] = []
    let width = 0
    for (const g of glyphs.slice(0, end)) {
      const last = runs.at(-1)
      if (last && last.font === g.font) {
        last.text += g.ch
        last.width += g.width
      } else runs.push({ font: g.font, text: g.ch, width: g.width })
      width += g.width
    }
    return { runs, width }
  }

  /** Natural width of one line of text, points. */
  width(text: string, style: TextStyle): number {
    return [...text].reduce((w, ch) => w + this.glyph(ch, style.bold ?? false).width, 0) * style.size
  }

  /**
   * Breaks text into lines of at most `width` points: at newlines, else after the last break
   * opportunity, else (one long word, a path) anywhere. `maxLines` cuts with an ellipsis.
   */
  wrap(text: string, width: number, style: TextStyle, maxLines = Infinity): TextLine[] {
    const limit = width / style.size
    const out: TextLine[] = []
    for (const hard of text.replace(/\r\n?/g, '\n').split('\n')) {
      let cur: Glyph[] = []
      let curWidth = 0
      let lastBreak = -1
      let wrapped = false
      for (const ch of hard) {
        const g = this.glyph(ch.replace(/[\u0000-\u001f\u007f-\u009f]/, ' '), style.bold ?? false)
        if (curWidth + g.width > limit && cur.length) {
          if (isSpace(g.ch)) {
            out.push(this.line(cur))
            ;[cur, curWidth, lastBreak, wrapped] = [[], 0, -1, true]
            continue
          }
          const carry = lastBreak >= 0 ? cur.splice(lastBreak + 1) : []
          out.push(this.line(cur))
          cur = carry
          curWidth = carry.reduce((w, x) => w + x.width, 0)
          lastBreak = -1
          wrapped = true
        }
        if (wrapped && !cur.length && isSpace(g.ch)) continue // no leading blank on a wrapped line
        if (g.ch.codePointAt(0)! >= 0x2e80 && cur.length) lastBreak = cur.length - 1
        cur.push(g)
        curWidth += g.width
        if (breaksAfter(g.ch)) lastBreak = cur.length - 1
      }
      out.push(this.line(cur))
    }
    if (out.length <= maxLines) return out
    const kept = out.slice(0, maxLines)
    const last = kept[maxLines - 1]
    last.runs.push({ font: this.fonts.regular, text: '…', width: this.glyph('…', false).width })
    return kept
  }

  /**
   * Draws lines from the top `y`, aligned within `width`; returns the height used. Runs share the
   * baseline whatever their font's ascent.
   */
  draw(lines: TextLine[], x: number, y: number, width: number, style: TextStyle & { align?: 'left' | 'right' }): number {
    const lh = this.lineHeight(style.size)
    lines.forEach((l, i) => {
      let cx = style.align === 'right' ? x + width - l.width * style.size : x
      const baseline = y + i * lh + style.size * 1.02
      for (const r of l.runs) {
        this.doc
          .font(r.font)
          .fontSize(style.size)
          .fillColor(style.color ?? '#1f2937')
        this.doc.text(r.text, cx, baseline, { lineBreak: false, baseline: 'alphabetic' })
        cx += r.width * style.size
      }
    })
    return lines.length * lh
  }
}
