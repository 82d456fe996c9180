import { existsSync, readFileSync } from 'node:fs'
import { ConfigError, UsageError, messageOf } from '../lib/errors.ts'
import { COMMANDS, USAGE, type CommandName } from './commands.ts'

/** A subcommand: resolves to the process exit code. */
type Command = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>

// Loaded on demand, so that `--help`, `--version` and a mistyped command never load the collector or the API.
const LOADERS: Record<CommandName, () => Promise<Command>> = {
  serve: async () => (await import('./api.ts')).runServeCommand,
  api: async () => (await import('./api.ts')).runApiCommand,
  collect: async () => (await import('./collect.ts')).runCollectCommand,
  simulate: async () => (await import('../simulator/cli.ts')).runSimulateCommand,
  job: async () => (await import('./job.ts')).runJobCommand,
  usage: async () => {
    const { runJobCommand } = await import('./job.ts')
    return (argv, env) => runJobCommand(['usage', ...argv], env)
  },
  slurm: async () => (await import('./slurm.ts')).runSlurmCommand,
  dashboards: async () => (await import('./dashboards.ts')).runDashboardsCommand,
  demo: async () => (await import('./demo.ts')).runDemoCommand,
  completion: async () => (await import('./completion.ts')).runCompletionCommand,
}

const isHelp = (arg: string) => arg === '--help' || arg === '-h'

/** package.json is one level up from cli/main.ts, two from the built dist/cli/main.js. */
function version(): string {
  const file = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u))!
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) throw new UsageError(`missing command: ${Object.keys(COMMANDS).join(', ')} (try qactivity --help)`)
  if (isHelp(name) || name === 'help') {
    process.stdout.write(USAGE)
    return 0
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`)
    return 0
  }
  if (!Object.hasOwn(COMMANDS, name)) throw new UsageError(`unknown command "${name}" (try qactivity --help)`)
  const command = name as CommandName
  // `job` has a help per subcommand; the arguments after `--` are operands, never a help request.
  const operands = rest.indexOf('--') === -1 ? rest : rest.slice(0, rest.indexOf('--'))
  if (command !== 'job' && operands.some(isHelp)) {
    process.stdout.write(COMMANDS[command].usage)
    return 0
  }
  ;(await import('../lib/config.ts')).loadDotEnv()
  return (await LOADERS[command]())(rest, process.env)
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
