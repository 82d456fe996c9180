import { describe, expect, it } from 'vitest'
import { isAtOrUnder, normalizePath, truncatePath } from '../../../lib/paths.ts'

describe('normalizePath', () => {
  it.each([
    ['/a/b/', '/a/b'],
    ['//a//b', '/a/b'],
    ['/', '/'],
    ['/Ünï cødé', '/Ünï cødé'],
  ])('%s → %s', (input, out) => expect(normalizePath(input)).toEqual({ ok: true, path: out }))

  it.each([['a/b'], ['/a/../b'], ['/a/./b'], ['/a\u0000b'], ['/a\nb'], ['/' + 'x'.repeat(4096)], ['']])('refuses %j', (input) => {
    expect(normalizePath(input).ok).toBe(false)
  })
})

describe('isAtOrUnder', () => {
  it.each([
    ['/a/b', '/a/b', true],
    ['/a/b/c', '/a/b', true],
    ['/a/bc', '/a/b', false],
    ['/a', '/a/b', false],
    ['/anything', '/', true],
  ])('%s under %s is %s', (p, base, ok) => expect(isAtOrUnder(p, base)).toBe(ok))
})

describe('truncatePath', () => {
  it.each([
    ['/a/b/c', 2, '/a/b'],
    ['/a', 2, '/a'],
    ['/a/b', 0, '/'],
    ['/', 3, '/'],
  ] as const)('%s to %i → %s', (p, d, out) => expect(truncatePath(p, d)).toBe(out))
})
