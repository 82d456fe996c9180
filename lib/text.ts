/**
 * Text from elsewhere (a server's message, an exception) made one readable line: control
 * characters and runs of whitespace become one space, and text beyond `max` characters is cut with `…`.
 */
export function oneLine(text: string, max = 500): string {
  const s = text
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}
