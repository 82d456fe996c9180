import { SMTPServer } from 'smtp-server'
import { simpleParser, type ParsedMail } from 'mailparser'
import { freePort } from './influxd.ts'

/** A message the SMTP server accepted, parsed by mailparser. */
export interface Received {
  envelopeTo: string[]
  raw: Buffer
  mail: ParsedMail
}

/** A real SMTP server on 127.0.0.1 (no TLS, no auth), that can be stopped and started on the same port. */
export interface TestSmtp {
  url: string
  port: number
  received: Received[]
  up(): Promise<void>
  down(): Promise<void>
  close(): Promise<void>
}

/** `refuse`: recipients answered `550` (a permanent refusal). */
export async function startSmtp(opts: { up?: boolean; refuse?: (address: string) => boolean } = {}): Promise<TestSmtp> {
  const port = await freePort()
  const received: Received[] = []
  let server: SMTPServer | undefined
  const up = async () => {
    if (server) return
    const s = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      size: 50 * 2 ** 20,
      onRcptTo(address, _session, callback) {
        if (opts.refuse?.(address.address)) {
          const err = Object.assign(new Error(`no such user ${address.address}`), { responseCode: 550 })
          return callback(err)
        }
        callback()
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks)
          simpleParser(raw).then(
            (mail) => {
              received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw, mail })
              callback()
            },
            (err: Error) => callback(err),
          )
        })
      },
    })
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject)
      s.listen(port, '127.0.0.1', () => resolve())
    })
    server = s
  }
  const down = async () => {
    const s = server
    server = undefined
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }
  if (opts.up !== false) await up()
  return { url: `smtp://127.0.0.1:${port}`, port, received, up, down, close: down }
}
