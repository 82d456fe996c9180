import { open } from 'node:fs/promises'

/** Makes a rename or unlink inside `dir` durable: fsync of the directory itself. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
