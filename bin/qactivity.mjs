#!/usr/bin/env node
// A checkout runs its TypeScript sources through tsx, so an edit takes effect without a build and a
// stale dist/ can never be run by mistake; an installed package ships no sources, only dist/.
import { existsSync } from 'node:fs'

const source = new URL('../cli/main.ts', import.meta.url)
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
} else {
  await import('../dist/cli/main.js')
}
