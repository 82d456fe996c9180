#!/usr/bin/env node
// Runs a TypeScript file (benchmarks, scripts) with the same loader as the qactivity executable.
import { register } from 'tsx/esm/api'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'

register()
const [file, ...args] = process.argv.slice(2)
process.argv = [process.argv[0], resolve(file), ...args]
await import(pathToFileURL(resolve(file)).href)
