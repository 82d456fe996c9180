import { UsageError } from '../lib/errors.ts'
import { COMMANDS, JOB_SUBCOMMANDS, SUBCOMMANDS, type CommandName, type Options } from './commands.ts'

/** `--name` for every option; `--help` stands for `-h` too. */
const flags = (options: Options) => Object.keys(options).map((o) => `--${o}`)

/** The options that take a value: after one of them bash completes file names (`-o default`). */
const valued = (options: Options) =>
  Object.entries(options)
    .filter(([, o]) => o.type === 'string')
    .map(([o]) => `--${o}`)

/** One `case` branch that sets the words to offer and the flags that take a value. */
const branch = (pattern: string, words: readonly string[], values: readonly string[], indent: string) =>
  `${indent}${pattern}) words='${words.join(' ')}'; values='${values.join(' ')}' ;;`

/**
 * The bash completion script: commands, job subcommands and every flag, from the tables the parsers
 * use (cli/commands.ts), so it cannot offer a flag that does not exist or miss one that does.
 */
export function bashCompletion(): string {
  const names = Object.keys(COMMANDS) as CommandName[]
  const commandBranches = names
    .filter((n) => n !== 'job')
    .map((n) => {
      const c = COMMANDS[n]
      return branch(n, [...('words' in c ? c.words : []), ...flags(c.options)], valued(c.options), '      ')
    })
  const jobBranches = SUBCOMMANDS.map((s) =>
    branch(s, flags(JOB_SUBCOMMANDS[s].options), valued(JOB_SUBCOMMANDS[s].options), '            '),
  )
  return `# bash completion for qactivity: source <(qactivity completion bash)
_qactivity() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} words= values=
  if (( COMP_CWORD == 1 )); then
    words='${names.join(' ')} --help --version'
  else
    case \${COMP_WORDS[1]} in
${commandBranches.join('\n')}
      job)
        if (( COMP_CWORD == 2 )); then
          words='${SUBCOMMANDS.join(' ')} --help'
        else
          case \${COMP_WORDS[2]} in
${jobBranches.join('\n')}
          esac
        fi ;;
    esac
  fi
  COMPREPLY=()
  # the value of a flag such as --out or --pdf: leave it to bash's file name completion
  if [[ $cur != -* && " $values " == *" $prev "* ]]; then return; fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _qactivity qactivity
`
}

/** `qactivity completion bash` */
export async function runCompletionCommand(argv: string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError('completion: give the shell, e.g. qactivity completion bash')
  if (argv[0] !== 'bash') throw new UsageError(`completion: only bash is supported, got "${argv[0]}"`)
  process.stdout.write(bashCompletion())
  return 0
}
