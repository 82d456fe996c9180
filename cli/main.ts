import { existsSync, readFileSync } from 'node:fs'
import { ConfigError, UsageError, messageOf } from '../lib/errors.ts'

/** A subcommand: resolves to the process exit code. */
type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  collect: { summary: 'poll Qumulo and write to InfluxDB (--once: one cycle, exit 0/1)', load: async () => (await import('./collect.ts')).runCollectCommand },
  api: { summary: 'the job API alone (split deployments)', load: async () => (await import('./api.ts')).runApiCommand },
  serve: { summary: 'job API + collector in one process (the default deployment)', load: async () => (await import('./api.ts')).runServeCommand },
  simulate: { summary: 'serve a Qumulo REST API simulator', load: async () => (await import('../simulator/cli.ts')).runSimulateCommand },
  job: { summary: 'jobs: start, add-path, add-client, comment, complete, show, list, stats, compare (qactivity job --help)', load: async () => (await import('./job.ts')).runJobCommand },
  dashboards: { summary: 'write the Grafana dashboards (InfluxQL and Flux) to --out DIR (default provisioning/dashboards)', load: async () => (await import('./dashboards.ts')).runDashboardsCommand },
  demo: { summary: 'simulator + collector into InfluxDB, then query the result', load: async () => (await import('./demo.ts')).runDemoCommand },
}

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  return ['usage: qactivity <command> [options]', '', 'commands:', ...lines].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-V') {
    // package.json is one level up from cli/main.ts, two from the built dist/cli/main.js
    const file = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u))!
    process.stdout.write((JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version + '\n')
    return 0
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n')
    return name ? 0 : 2
  }
  const command = COMMANDS[name]
  if (!command) throw new UsageError(`unknown command "${name}" (try qactivity --help)`)
  // loaded after --version: lib/config.ts is most of what a bare start costs
  const { loadDotEnv } = await import('../lib/config.ts')
  loadDotEnv()
  return (await command.load())(rest, process.env)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`qactivity: ${messageOf(err)}\n`)
    process.exitCode = err instanceof UsageError || err instanceof ConfigError ? 2 : 1
  },
)
