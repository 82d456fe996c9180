/** Every problem found in the environment at start, reported together in one message. */
export class ConfigError extends Error {
  /** One entry per invalid or missing variable: `VARIABLE: what is wrong`. */
  readonly problems: string[]

  constructor(problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** A command-line mistake: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/**
 * Removes credentials from anything that may reach a log or an error message: `user:pass@` in URLs,
 * bearer/token headers and `password` JSON members. The one place masking happens.
 */
export function redact(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1***@')
    .replace(/\b(Bearer|Token|Basic)\s+[^\s"',]+/g, '$1 ***')
    .replace(/("?(?:password|bearer_token|token)"?\s*[:=]\s*)"[^"]*"/gi, '$1"***"')
    .replace(/\b(access-v1|session-v1):[^\s"',]+/g, '$1:***')
}

/** The message of any thrown value, without credentials. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : ''
    return redact(err.message + cause)
  }
  return redact(String(err))
}
