import { spawn, type ChildProcess } from 'node:child_process'
import { tempDir } from './tmp.ts'

const BIN = new URL('../../bin/qactivity.mjs', import.meta.url).pathname

/** `qactivity api` as its own process, as a site runs it. */
export interface ApiProcess {
  child: ChildProcess
  url: string
  /** the last 20,000 characters it wrote to stderr */
  stderr(): string
  /** SIGTERM, and SIGKILL after 10 s; resolves when it exited */
  stop(): Promise<void>
}

/** Starts `qactivity api` with `env` (and PATH, HOME); resolves once it logs `msg="API listening" url=…`. */
export function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  let stderr = ''
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'api'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      cwd: tempDir(),
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`qactivity api not ready after 30 s; stderr:\n${stderr}`))
    }, 30_000)
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGCONT') // a stopped process cannot handle SIGTERM
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(t)
    }
    child.stdout!.resume()
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000)
      for (const line of stderr.split('\n')) {
        const url = /url="?(https?:\/\/[^\s"]+)/.exec(line)?.[1]
        if (line.includes('msg="API listening"') && url) {
          clearTimeout(timer)
          resolve({ child, url, stderr: () => stderr, stop })
          return
        }
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`qactivity api exited (${code}); stderr:\n${stderr}`))
    })
  })
}
