#!/usr/bin/env node
// The sources are TypeScript run through tsx, so a checkout works after `npm install` with no build step.
import { register } from 'tsx/esm/api'

register()
await import('../cli/main.ts')
