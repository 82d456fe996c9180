import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { generate } from 'selfsigned'

/** A self-signed certificate and its key, PEM. The certificate doubles as the CA a client trusts. */
export interface SelfSignedCertificate {
  key: string
  cert: string
}

/**
 * Makes a self-signed certificate like a fresh Qumulo cluster's, valid for `localhost`, `127.0.0.1`,
 * `::1`, this machine's host name and `host`. EC P-256 keeps generation in the tens of milliseconds.
 */
export async function createSelfSignedCertificate(host: string): Promise<SelfSignedCertificate> {
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname(), host].filter((h) => h && h !== '0.0.0.0' && h !== '::'))
  const altNames = [...names].map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n }))
  const pems = await generate([{ name: 'commonName', value: 'qumulo-simulator' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  })
  return { key: pems.private, cert: pems.cert }
}
