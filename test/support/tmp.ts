import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'

const leftovers = new Set<string>()
process.once('exit', () => {
  for (const dir of leftovers) rmSync(dir, { recursive: true, force: true })
})

/**
 * A fresh directory under the system temp dir. Inside a test it is removed when the test finishes;
 * created elsewhere (e.g. `beforeAll`) it is removed when the process exits.
 */
export function tempDir(prefix = 'qactivity-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const remove = () => {
    leftovers.delete(dir)
    rmSync(dir, { recursive: true, force: true })
  }
  leftovers.add(dir)
  try {
    onTestFinished(remove)
  } catch {
    // Not inside a running test: the exit handler cleans up.
  }
  return dir
}
