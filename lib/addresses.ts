import ipaddr from 'ipaddr.js'

/** Canonical form of an IP address or CIDR, or undefined when it is neither. */
export function canonicalClient(s: string): string | undefined {
  if (s.length > 64 || s.includes('%')) return undefined
  const [addrPart, bits, extra] = s.split('/')
  if (extra !== undefined) return undefined
  let addr = parseAddress(addrPart)
  if (!addr) return undefined
  if (bits === undefined) return canonicalAddress(addrPart)
  if (!/^\d{1,3}$/.test(bits)) return undefined
  let n = Number(bits)
  // ::ffff:a.b.c.d/120 is the IPv4 network a.b.c.d/24
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    if (n < 96) return undefined
    addr = (addr as ipaddr.IPv6).toIPv4Address()
    n -= 96
  }
  if (n > (addr.kind() === 'ipv4' ? 32 : 128)) return undefined
  return `${networkOf(addr, n)}/${n}`
}

/** Dotted-quad IPv4 only (no `10.1` shorthands) or IPv6; IPv4-mapped IPv6 stays IPv6 here. */
function parseAddress(s: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s)
  if (s.includes(':') && ipaddr.IPv6.isValid(s)) return ipaddr.IPv6.parse(s)
  return undefined
}

/** Canonical single address: IPv4-mapped IPv6 becomes IPv4. */
export function canonicalAddress(s: string): string | undefined {
  const a = parseAddress(s)
  if (!a) return undefined
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address().toString() : a.toString()
}

function networkOf(addr: ipaddr.IPv4 | ipaddr.IPv6, bits: number): string {
  const bytes = addr.toByteArray()
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    bytes[i] &= (0xff << (8 - keep)) & 0xff
  }
  return ipaddr.fromByteArray(bytes).toString()
}
