import { randomBytes } from 'node:crypto'

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ' // Crockford base32, as in ULID
let lastMs = -1
let lastRandom = 0n

/**
 * A new job ID that sorts by creation time: a ULID (48-bit ms time + 80 random bits, 26 characters),
 * monotonic within a millisecond.
 */
export function newJobId(now = Date.now()): string {
  if (now <= lastMs) {
    lastRandom++
    now = lastMs
  } else {
    lastMs = now
    lastRandom = BigInt('0x' + randomBytes(10).toString('hex')) >> 1n // room to increment
  }
  return encode(BigInt(now), 10) + encode(lastRandom, 16)
}

function encode(n: bigint, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(n & 31n)] + out
    n >>= 5n
  }
  return out
}

/** Job IDs (docs/interface.md §5): Slurm's `123`, array task `123_4`, heterogeneous component `123+1`, a requeued run `123.1`. */
export const JOB_ID_PATTERN = '[A-Za-z0-9][A-Za-z0-9._+-]{0,63}'
export const JOB_ID_RE = new RegExp(`^${JOB_ID_PATTERN}$`)
