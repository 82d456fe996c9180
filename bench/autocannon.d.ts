// autocannon 9 ships no types (and there is no @types/autocannon): the part of its programmatic API
// the benchmarks use (node_modules/autocannon/README.md, "API"). Called without a callback it
// returns a promise of the result.
declare module 'autocannon' {
  namespace autocannon {
    /** Per-connection state; reset at the start of each pass through `requests`. */
    type Context = Record<string, unknown>

    interface RequestParams {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string | Buffer
    }

    interface Request extends RequestParams {
      /** Returns the request to send; a falsy value restarts the list (counted as a reset). */
      setupRequest?: (req: RequestParams, context: Context) => RequestParams | null | undefined | false
      onResponse?: (status: number, body: string, context: Context, headers: Record<string, string | string[]>) => void
    }

    interface Options {
      url: string
      connections?: number
      /** seconds */
      duration?: number
      amount?: number
      pipelining?: number
      /** seconds @defaultValue 10 */
      timeout?: number
      method?: string
      headers?: Record<string, string>
      body?: string | Buffer
      requests?: Request[]
      initialContext?: Context
      idReplacement?: boolean
      overallRate?: number
    }

    /** Histogram summary; latency in ms, requests in req/s, throughput in bytes/s. */
    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p0_001: number
      p0_01: number
      p0_1: number
      p1: number
      p2_5: number
      p10: number
      p25: number
      p50: number
      p75: number
      p90: number
      p97_5: number
      p99: number
      p99_9: number
      p99_99: number
      p99_999: number
      sent?: number
    }

    interface Result {
      title?: string
      url: string
      /** seconds */
      duration: number
      connections: number
      pipelining: number
      start: Date
      finish: Date
      latency: Histogram
      requests: Histogram
      throughput: Histogram
      errors: number
      timeouts: number
      mismatches: number
      non2xx: number
      resets: number
      '1xx': number
      '2xx': number
      '3xx': number
      '4xx': number
      '5xx': number
      statusCodeStats: Record<string, { count: number }>
    }
  }

  function autocannon(opts: autocannon.Options): Promise<autocannon.Result>
  export = autocannon
}
