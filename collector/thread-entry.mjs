// A checkout's collector thread runs its TypeScript through tsx, like bin/qactivity.mjs: loader
// hooks registered in the main thread do not reach a worker thread.
import { register } from 'tsx/esm/api'

register()
await import('./thread-worker.ts')
