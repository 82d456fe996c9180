import { describe, expect, it } from 'vitest'
import { PathRule, directoryOf } from '../../../collector/path-rule.ts'

describe('PathRule (docs/interface.md §4)', () => {
  const cases: Array<[string, string[], number, string, string]> = [
    // [why, watched, depth, resolved path as served, expected tag]
    ['file outside watched paths cut to depth 2', [], 2, '/render/shots/s01/f.exr', '/render/shots'],
    ['file shallower than depth keeps its directory', [], 2, '/render/f.exr', '/render'],
    ['file at the root is /', [], 2, '/f.bin', '/'],
    ['depth 0 puts everything at /', [], 0, '/a/b/c/f', '/'],
    ['directory id (trailing slash) is its own directory', [], 2, '/home/bob/', '/home/bob'],
    ['root directory id', [], 2, '/', '/'],
    ['deleted id is (unresolved)', ['/a'], 2, '', '(unresolved)'],
    ['watched path wins over depth', ['/render/shots/s01'], 1, '/render/shots/s01/x/f', '/render/shots/s01'],
    ['longest watched path wins', ['/a', '/a/b/c'], 2, '/a/b/c/d/f', '/a/b/c'],
    ['shorter watched path when the longer does not contain', ['/a', '/a/b/c'], 2, '/a/b/x/f', '/a'],
    ['/a/b does not contain /a/bc', ['/a/b'], 1, '/a/bc/f', '/a'],
    ['watched root catches everything', ['/'], 3, '/x/y/z/f', '/'],
    ['watched paths are directories: a file path is not one', ['/data/big.bam'], 1, '/data/big.bam', '/data'],
    ['directory equal to a watched path', ['/home/bob'], 1, '/home/bob/', '/home/bob'],
    ['unicode and spaces survive', [], 2, '/Ünï cødé/dir x/f', '/Ünï cødé/dir x'],
  ]
  it.each(cases)('%s', (_why, watched, depth, resolved, tag) => {
    expect(new PathRule(watched, depth).tagFor(directoryOf(resolved))).toBe(tag)
  })

  it('keeps answers stable when memoised', () => {
    const rule = new PathRule(['/a/b'], 1)
    expect(rule.tagFor('/a/b/c')).toBe('/a/b')
    expect(rule.tagFor('/a/b/c')).toBe('/a/b')
    expect(rule.tagFor('/a/c')).toBe('/a')
  })
})
