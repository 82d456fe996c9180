import { describe, expect, it } from 'vitest'
import { clip } from '../../../lib/log.ts'
import { createStateLog } from '../../../collector/state-log.ts'
import { capturedLog } from '../../support/log.ts'

describe('createStateLog', () => {
  it('logs a failure when it starts and a recovery with the number of failed cycles, nothing in between', () => {
    const { lines, log } = capturedLog('info')
    const states = createStateLog(log)
    expect(states.ok('activity', 'Activity poll recovered')).toBe(false)
    expect([1, 2, 3].map(() => states.fail('activity', 'Activity poll failed', { error: '503' }))).toEqual([true, false, false])
    states.fail('file-system', 'File-system poll failed', { error: '503' })
    expect(states.ok('activity', 'Activity poll recovered')).toBe(true)
    expect(states.ok('activity', 'Activity poll recovered')).toBe(false)
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/level=warn msg="Activity poll failed" error=503$/)
    expect(lines[1]).toContain('msg="File-system poll failed"')
    expect(lines[2]).toMatch(/level=info msg="Activity poll recovered" failed_cycles=3$/)
  })
})

describe('clip', () => {
  it('keeps short text and cuts long text to 200 characters plus its size in bytes', () => {
    expect(clip('/render/shots')).toBe('/render/shots')
    const long = '/' + 'é'.repeat(300)
    expect(clip(long)).toBe(long.slice(0, 200) + '…(601 bytes)')
  })
})
