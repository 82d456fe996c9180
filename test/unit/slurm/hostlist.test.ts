import { describe, expect, it } from 'vitest'
import { expandHostlist } from '../../../slurm/hostlist.ts'

describe('expandHostlist', () => {
  it('expands ranges with their zero padding, lists, several groups, and plain names', () => {
    expect(expandHostlist('node[01-03,7],login1')).toEqual(['node01', 'node02', 'node03', 'node7', 'login1'])
    expect(expandHostlist('r[1-2]n[08-09]')).toEqual(['r1n08', 'r1n09', 'r2n08', 'r2n09'])
    expect(expandHostlist('n[08-11]')).toEqual(['n08', 'n09', 'n10', 'n11'])
    expect(expandHostlist('vm')).toEqual(['vm'])
    expect(expandHostlist('')).toEqual([])
  })

  it('refuses what it cannot read, in one line naming the list', () => {
    expect(() => expandHostlist('n[1-3')).toThrow('hostlist "n[1-3": unbalanced brackets')
    expect(() => expandHostlist('n[3-1]')).toThrow('hostlist "n[3-1]": range 3-1 runs backwards')
    expect(() => expandHostlist('n[a-b]')).toThrow('hostlist "n[a-b]": "a-b" is not a number or a range')
    expect(() => expandHostlist('n[1-99999999]')).toThrow(/more than 100000 hosts/)
    expect(() => expandHostlist('gpu[9-10]-ib')).toThrow('hostlist "gpu[9-10]-ib": text after the last range')
  })
})
