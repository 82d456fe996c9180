import { describe, expect, it } from 'vitest'
import { toLine, type LinePoint } from '../../../lib/influx/line-protocol.ts'

const p = (over: Partial<LinePoint>): LinePoint => ({ measurement: 'm', tags: {}, fields: { f: 1 }, time: 1700000000, ...over })

describe('toLine', () => {
  const table: Array<[string, LinePoint, string]> = [
    ['writes a float field and the time in milliseconds', p({}), 'm f=1 1700000000000'],
    ['sorts tags by key', p({ tags: { z: '1', a: '2', m: '3' } }), 'm,a=2,m=3,z=1 f=1 1700000000000'],
    ['omits empty tag values', p({ tags: { a: '', b: 'x' } }), 'm,b=x f=1 1700000000000'],
    ['escapes commas and spaces in the measurement', p({ measurement: 'my m,x=y' }), 'my\\ m\\,x=y f=1 1700000000000'],
    [
      'escapes commas, equals and spaces in tag keys and values',
      p({ tags: { 'k ,=': 'v ,=' } }),
      'm,k\\ \\,\\==v\\ \\,\\= f=1 1700000000000',
    ],
    ['escapes commas, equals and spaces in field keys', p({ fields: { 'f ,=': 2 } }), 'm f\\ \\,\\==2 1700000000000'],
    [
      'quotes strings, escaping quotes and backslashes',
      p({ fields: { s: 'say "hi" C:\\dir\\' } }),
      'm s="say \\"hi\\" C:\\\\dir\\\\" 1700000000000',
    ],
    ['writes bigint as an exact integer beyond 2^53', p({ fields: { n: 2n ** 53n + 1n } }), 'm n=9007199254740993i 1700000000000'],
    [
      'writes the int64 extremes',
      p({ fields: { a: 2n ** 63n - 1n, b: -(2n ** 63n) } }),
      'm a=9223372036854775807i,b=-9223372036854775808i 1700000000000',
    ],
    ['writes booleans', p({ fields: { t: true, f: false } }), 'm t=true,f=false 1700000000000'],
    [
      'writes floats with exponents and fractions',
      p({ fields: { a: 1e21, b: -1.5e-7, c: 0.1 } }),
      'm a=1e+21,b=-1.5e-7,c=0.1 1700000000000',
    ],
    ['omits NaN and infinite floats', p({ fields: { a: NaN, b: Infinity, c: 2 } }), 'm c=2 1700000000000'],
    [
      'keeps Unicode as is',
      p({
        measurement: 'mé',
        tags: { ü: '😀 x' },
        fields: { s: 'ünï€' },
      }),
      'mé,ü=😀\\ x s="ünï€" 1700000000000',
    ],
    ['writes newlines in tags as a visible \\n', p({ tags: { path: 'a\nb\r\tc' } }), 'm,path=a\\nb\\r\\tc f=1 1700000000000'],
    ['writes newlines in the measurement as a visible \\n', p({ measurement: 'a\nb' }), 'a\\nb f=1 1700000000000'],
    ['writes newlines in strings as a visible \\n', p({ fields: { s: 'l1\nl2\r' } }), 'm s="l1\\nl2\\r" 1700000000000'],
    ['follows a trailing backslash in a tag with _ (unrepresentable otherwise)', p({ tags: { p: 'C:\\' } }), 'm,p=C:\\_ f=1 1700000000000'],
  ]
  it.each(table)('%s', (_, point, line) => {
    expect(toLine(point)).toBe(line)
  })

  it('never produces a line break', () => {
    const line = toLine(p({ measurement: '\n', tags: { '\n': '\r\n' }, fields: { '\n': '\n', x: 1 } }))
    expect(line).not.toMatch(/[\r\n]/)
  })

  it('throws on a point without fields instead of dropping it', () => {
    expect(() => toLine(p({ fields: {} }))).toThrow(/no fields/)
  })

  it('throws when every field is non-finite', () => {
    expect(() => toLine(p({ fields: { a: NaN, b: -Infinity } }))).toThrow(/no fields/)
  })

  it('throws on integers outside int64', () => {
    expect(() => toLine(p({ fields: { n: 2n ** 63n } }))).toThrow(RangeError)
  })

  it('keeps milliseconds of a fractional time; throws on a negative or unsafe time, an empty name and a comment-like name', () => {
    expect(toLine(p({ time: 1.5 }))).toBe('m f=1 1500')
    expect(() => toLine(p({ time: -1 }))).toThrow(/bad time/)
    expect(() => toLine(p({ time: Number.MAX_VALUE }))).toThrow(/bad time/)
    expect(() => toLine(p({ measurement: '' }))).toThrow(/measurement/)
    expect(() => toLine(p({ measurement: '#m' }))).toThrow(/#/)
    expect(() => toLine(p({ tags: { '': 'x' } }))).toThrow(/empty tag key/)
  })
})
