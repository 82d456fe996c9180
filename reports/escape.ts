/** Escaping of user-supplied text for the report's media: HTML (text and attributes) and mail headers. */

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '=': '&#61;',
  '`': '&#96;',
}

/**
 * Escapes text for HTML element content and quoted attribute values alike: & < > " ' and also = and
 * the backtick (OWASP's attribute rule), so not even the inert text `onerror=` survives and tests
 * (and mail filters) can check the output without parsing it. Every string that reaches the
 * report's HTML goes through here, numbers included, so no caller has to decide what is "safe".
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'=`]/g, (c) => HTML_ENTITIES[c])
}

/**
 * One line of text for a mail header (the subject): CR, LF and every other control character
 * become a space (no header injection, no folding surprises), runs of spaces collapse, and the
 * result is cut to `max` characters (code points) with an ellipsis.
 */
export function headerLine(text: string, max = 200): string {
  const line = text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
  const chars = [...line]
  return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : line
}
