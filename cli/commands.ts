import type { ParseArgsConfig } from 'node:util'
import { UNITS_NOTE } from '../lib/units.ts'
import { SIMULATE_FLAGS, SIMULATE_USAGE } from '../simulator/flags.ts'
import { TOP_N } from '../stats/compute.ts'

/**
 * Every command, job subcommand and flag of `qactivity`: the parsers, `--help` and the bash completion
 * all read these tables, so a flag exists in all three or in none. This module loads nothing heavy,
 * which keeps `--help`, `--version` and completion fast.
 */

export type Options = NonNullable<ParseArgsConfig['options']>

const str = { type: 'string' } as const
const many = { type: 'string', multiple: true } as const
const flag = { type: 'boolean' } as const
const help = { type: 'boolean', short: 'h' } as const

export interface CommandSpec {
  /** one line in `qactivity --help` */
  summary: string
  /** `qactivity <command> --help` */
  usage: string
  /** the `parseArgs` options of the command (for `job`, the ones every subcommand takes) */
  options: Options
  /** words completed after the command (`completion bash`) */
  words?: readonly string[]
}

const common: Options = { json: flag, help }
const withJob: Options = { ...common, job: str }

export interface JobSubcommandSpec {
  synopsis: string
  about: string
  options: Options
  positionals: boolean
}

export const JOB_SUBCOMMANDS = {
  start: {
    synopsis: 'start --name N [--cluster C] [--path P]… [--client IP]… [--label k=v]… [--comment T] [--notify ADDR]… [--id ID]',
    about: 'create a job; prints only its ID:  export QACTIVITY_JOB=$(qactivity job start --name render)',
    options: { ...common, name: str, id: str, cluster: str, path: many, client: many, label: many, comment: str, notify: many },
    positionals: false,
  },
  'add-path': { synopsis: 'add-path P…', about: 'attach cluster paths to the job', options: withJob, positionals: true },
  'add-client': {
    synopsis: 'add-client [IP…]',
    about: "attach client IPs or CIDRs; none = this machine's address as the API sees it",
    options: withJob,
    positionals: true,
  },
  comment: { synopsis: 'comment TEXT…', about: 'add a comment (words joined with spaces)', options: withJob, positionals: true },
  complete: {
    synopsis: 'complete [--failed | --cancelled] [--at TIME]',
    about: 'complete the job (succeeded unless --failed or --cancelled; now unless --at)',
    options: { ...withJob, failed: flag, cancelled: flag, at: str },
    positionals: false,
  },
  show: { synopsis: 'show [ID]', about: "the job's attributes and comments", options: withJob, positionals: true },
  list: {
    synopsis: 'list [--status S] [--name N] [--label k:v]… [--since TIME] [--until TIME] [--limit N] [--all]',
    about: 'jobs, newest first (--all follows every page)',
    options: { ...common, status: str, name: str, label: many, since: str, until: str, limit: str, cursor: str, all: flag },
    positionals: false,
  },
  stats: {
    synopsis: 'stats [ID] [--top N]',
    about:
      `activity totals, mean and peak rates, capacity growth per path, the top N clients and paths\n` +
      `(default and at most ${TOP_N}, as many as the API returns), previous runs of the same name (live while the job runs)`,
    options: { ...withJob, top: str },
    positionals: true,
  },
  compare: {
    synopsis: 'compare ID ID…',
    about: "activity totals side by side, each later job's change against the first in %\n(--job ID counts as the first ID)",
    options: withJob,
    positionals: true,
  },
  report: {
    synopsis: 'report [ID] [--pdf FILE] [--email ADDR]…',
    about:
      "the job's report: HTML on stdout; --pdf writes the PDF to FILE (- = stdout);\n" +
      "--email queues it by e-mail (no ADDR: the job's notify and QACTIVITY_REPORT_TO\n" +
      "with --email '')",
    options: { ...withJob, pdf: str, email: many },
    positionals: true,
  },
  usage: {
    synopsis: 'usage --since TIME [--until TIME] [--group name|cluster|label:KEY] [--cluster C]',
    about:
      'showback: the completed jobs that ended in the range, per group: jobs, totals, used growth\n' +
      'and share of the cluster (also as `qactivity usage`)',
    options: { ...common, since: str, until: str, group: str, cluster: str },
    positionals: false,
  },
} as const satisfies Record<string, JobSubcommandSpec>

export type Subcommand = keyof typeof JOB_SUBCOMMANDS
export const SUBCOMMANDS = Object.keys(JOB_SUBCOMMANDS) as Subcommand[]

/** `  synopsis  about`, or the about on the lines below a long synopsis, as in man pages. */
function entry(synopsis: string, about: string): string {
  const indent = ' '.repeat(24)
  const lines = about.split('\n')
  const head = synopsis.length <= 20 ? `  ${synopsis.padEnd(22)}${lines.shift()}` : `  ${synopsis}`
  return [head, ...lines.map((l) => indent + l)].join('\n')
}

const JOB_OPTIONS = `options:
${entry('--job ID', 'the job to act on (default: $QACTIVITY_JOB)')}
${entry('--json', "print the API's JSON instead of human output")}
${entry('-h, --help', 'this help')}`

const JOB_NOTES = `TIME is ISO 8601 (2026-11-23T10:00:00Z, or with ±hh:mm) or epoch milliseconds; without a zone it is local time.
units of stats and compare: ${UNITS_NOTE}; --json gives the raw ops, bytes and per-second values.
environment: QACTIVITY_URL (default http://127.0.0.1:8750), QACTIVITY_TOKEN (one of the API's QACTIVITY_API_TOKENS), QACTIVITY_JOB
exit codes: 0 success, 1 operational failure (API unreachable, 401/403/404/409, 5xx), 2 usage error
`

export const JOB_USAGE = `usage: qactivity job <subcommand> [options]
       qactivity job <subcommand> --help

subcommands:
${SUBCOMMANDS.map((s) => entry(JOB_SUBCOMMANDS[s].synopsis, JOB_SUBCOMMANDS[s].about)).join('\n')}

${JOB_OPTIONS}

${JOB_NOTES}`

/** `qactivity job <sub> --help`: that subcommand only. */
export function jobSubcommandUsage(sub: Subcommand): string {
  const s = JOB_SUBCOMMANDS[sub]
  return `usage: qactivity job ${s.synopsis}\n\n${s.about}\n\n${JOB_OPTIONS}\n\n${JOB_NOTES}`
}

const ENVIRONMENT = 'configured by environment variables and ./.env (README: Configuration); logs are logfmt lines on stderr'

export const COMMANDS = {
  serve: {
    summary: 'job API + collector + report mailer in one process (the default deployment)',
    usage:
      `usage: qactivity serve\n\n` +
      `the job API, the collector (watching running jobs' paths) and the report mailer in one process,\n` +
      `until SIGINT or SIGTERM.\n${ENVIRONMENT}\n`,
    options: { help },
  },
  api: {
    summary: 'the job API alone (split deployments)',
    usage:
      `usage: qactivity api\n\n` +
      `the job API alone, until SIGINT or SIGTERM (split deployments: a lone collect asks it for running jobs' paths).\n` +
      `${ENVIRONMENT}\n`,
    options: { help },
  },
  collect: {
    summary: 'poll Qumulo and write to InfluxDB (--once: one cycle, exit 0/1)',
    usage: `usage: qactivity collect [--once] [--cluster NAME]

polls Qumulo every QACTIVITY_POLL_SECONDS and writes to InfluxDB, until SIGINT or SIGTERM.

${entry('--once', 'one poll cycle, delivered to InfluxDB; exit 0, or 1 when anything failed')}
${entry('--cluster NAME', 'the QACTIVITY_CLUSTERS_FILE entry to poll (needed when it lists several)')}
${entry('-h, --help', 'this help')}

${ENVIRONMENT}
`,
    options: { once: { type: 'boolean', default: false }, cluster: str, help },
  },
  simulate: { summary: 'serve a Qumulo REST API simulator (--help lists the fault knobs)', usage: SIMULATE_USAGE, options: SIMULATE_FLAGS },
  job: {
    summary: `jobs: ${SUBCOMMANDS.join(', ')} (qactivity job --help)`,
    usage: JOB_USAGE,
    options: withJob,
    words: SUBCOMMANDS,
  },
  usage: {
    summary: 'showback: completed jobs of a range per name, cluster or label (qactivity job usage)',
    usage: jobSubcommandUsage('usage').replace('qactivity job usage', 'qactivity usage'),
    options: { ...common, since: str, until: str, group: str, cluster: str },
  },
  slurm: {
    summary: 'Slurm: install the controller hooks (conf), keep qactivity in line with Slurm (sync)',
    usage: `usage: qactivity slurm conf [--hooks-dir DIR]
       qactivity slurm sync [--once]

conf writes the controller hook, the sync's settings (QACTIVITY_URL, QACTIVITY_TOKEN, QACTIVITY_SLURM_*;
readable by SlurmUser and root only) and a systemd unit into DIR, creates the hook spool, and prints the
slurm.conf lines to add. Run it as root on the slurmctld host.
sync creates and completes qactivity jobs from Slurm's own records (squeue --json): at once for what the hooks
noted, and every QACTIVITY_SLURM_SYNC_SECONDS (default 60) for everything; run it on the slurmctld host.

${entry('--hooks-dir DIR', 'where conf writes (default /etc/slurm/qactivity)')}
${entry('--once', 'sync: one full round, then exit 0, or 1 when anything could not be reconciled')}
${entry('-h, --help', 'this help')}

environment: QACTIVITY_URL, QACTIVITY_TOKEN (a writer token), SLURM_CONF, QACTIVITY_SLURM_SPOOL, QACTIVITY_SLURM_CLUSTER,
QACTIVITY_SLURM_ID_PREFIX, QACTIVITY_SLURM_PATHS, QACTIVITY_SLURM_CLIENT_TEMPLATE, QACTIVITY_SLURM_CLIENT_FILE (README "Slurm")
`,
    options: { 'hooks-dir': str, once: flag, help },
    words: ['conf', 'sync'],
  },
  dashboards: {
    summary: 'write the Grafana dashboards (InfluxQL and Flux) to --out DIR (default provisioning/dashboards)',
    usage: `usage: qactivity dashboards [--out DIR]

writes the Grafana dashboards, InfluxQL and Flux flavours, for this configuration's poll interval and bucket.

${entry('--out DIR', 'where to write them (default provisioning/dashboards)')}
${entry('-h, --help', 'this help')}
`,
    options: { out: { type: 'string', default: 'provisioning/dashboards' }, help },
  },
  demo: {
    summary: 'simulator + job API + collector into InfluxDB: a scripted job, its stats and its PDF report',
    usage: `usage: qactivity demo [--cycles N]

the simulator, the job API and the collector against INFLUX_URL, or a private influxd it starts and removes;
runs a scripted render job, then prints a query, the job, its stats and where its PDF report went.

${entry('--cycles N', 'poll cycles (5 s apart) the job runs for, 1 to 100 (default 3)')}
${entry('-h, --help', 'this help')}
`,
    options: { cycles: { type: 'string', default: '3' }, help },
  },
  completion: {
    summary: 'print the bash completion script:  source <(qactivity completion bash)',
    usage: `usage: qactivity completion bash

prints a bash completion script for qactivity's commands, job subcommands and flags. Load it with
  source <(qactivity completion bash)
in ~/.bashrc, or save it as /etc/bash_completion.d/qactivity.
`,
    options: { help },
    words: ['bash'],
  },
} as const satisfies Record<string, CommandSpec>

export type CommandName = keyof typeof COMMANDS

export const USAGE = `usage: qactivity <command> [options]
       qactivity <command> --help
       qactivity --version

commands:
${(Object.keys(COMMANDS) as CommandName[]).map((name) => `  ${name.padEnd(12)}${COMMANDS[name].summary}`).join('\n')}

options:
  -h, --help    this help
  -V, --version print the version

exit codes: 0 success, 1 operational failure (a server unreachable…), 2 usage or configuration error
`
