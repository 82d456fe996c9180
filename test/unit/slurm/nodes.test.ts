import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeAddresses, readNodeFile } from '../../../slurm/nodes.ts'
import { tempDir } from '../../support/tmp.ts'

const nodeFile = (text: string) => {
  const file = join(tempDir(), 'nodes.txt')
  writeFileSync(file, text)
  return file
}

/** A fake DNS from a table; every question is noted. */
function fakeDns(table: Record<string, string>) {
  const asked: string[] = []
  const resolve = async (name: string) => {
    asked.push(name)
    const addr = table[name]
    if (addr === undefined) throw new Error(`getaddrinfo ENOTFOUND ${name}`)
    return addr
  }
  return { asked, resolve }
}

/** A fake `scontrol` NodeAddr lookup from a table; every call is noted. */
function fakeNodeAddr(table: Record<string, string>) {
  const calls: string[][] = []
  const nodeAddr = async (names: string[]) => {
    calls.push([...names])
    return new Map(names.filter((n) => n in table).map((n) => [n, table[n]]))
  }
  return { calls, nodeAddr }
}

/** A clock the test moves. */
function clock(start = 1_800_000_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

describe('readNodeFile', () => {
  it('reads node/address lines, skipping comments and blank lines, canonicalising addresses', () => {
    const file = nodeFile(
      [
        '# node  address',
        '',
        'n01 10.0.0.1',
        '  n02\t10.0.0.2   # the second one',
        'n03 2001:DB8:0:0:0:0:0:1',
        'n04 ::ffff:10.0.0.4',
        '   ',
        'n05 fe80::1',
      ].join('\n') + '\n',
    )
    expect([...readNodeFile(file)]).toEqual([
      ['n01', '10.0.0.1'],
      ['n02', '10.0.0.2'],
      ['n03', '2001:db8::1'],
      ['n04', '10.0.0.4'],
      ['n05', 'fe80::1'],
    ])
  })

  it('gives an empty map for a file of comments only', () => {
    expect(readNodeFile(nodeFile('# nothing yet\n\n')).size).toBe(0)
  })

  it('refuses a line without an address, with a name instead of an IP, or with extra fields, naming file:line', () => {
    let file = nodeFile('n01 10.0.0.1\nn02\n')
    expect(() => readNodeFile(file)).toThrow(`${file}:2: expected "node address" with an IP address, got "n02"`)
    file = nodeFile('# c\n\nn01 n01-ib.example\n')
    expect(() => readNodeFile(file)).toThrow(`${file}:3: expected "node address" with an IP address, got "n01 n01-ib.example"`)
    file = nodeFile('n01 10.0.0.1 10.0.0.2 # two\n')
    expect(() => readNodeFile(file)).toThrow(`${file}:1: expected "node address" with an IP address, got "n01 10.0.0.1 10.0.0.2"`)
    file = nodeFile('n01 10.0.0.256\n')
    expect(() => readNodeFile(file)).toThrow(`${file}:1: expected "node address" with an IP address, got "n01 10.0.0.256"`)
  })

  it('refuses a file it cannot read', () => {
    expect(() => readNodeFile(join(tempDir(), 'missing.txt'))).toThrow(/ENOENT/)
  })
})

describe('nodeAddresses', () => {
  describe('by NodeAddr (the default)', () => {
    it('uses an IP NodeAddr as is and resolves a name NodeAddr', async () => {
      const dns = fakeDns({ 'n02.cluster': '10.0.0.2' })
      const sc = fakeNodeAddr({ n01: '10.0.0.1', n02: 'n02.cluster' })
      const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n01', 'n02'])).toEqual({ clients: ['10.0.0.1', '10.0.0.2'], problems: [] })
      expect(sc.calls).toEqual([['n01', 'n02']])
      expect(dns.asked).toEqual(['n02.cluster'])
    })

    it('resolves the node name itself when scontrol gives no NodeAddr for it', async () => {
      const dns = fakeDns({ n03: '10.0.0.3' })
      const sc = fakeNodeAddr({})
      const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n03'])).toEqual({ clients: ['10.0.0.3'], problems: [] })
      expect(dns.asked).toEqual(['n03'])
    })

    it('canonicalises the addresses NodeAddr and DNS give', async () => {
      const dns = fakeDns({ 'n02.cluster': '::ffff:10.0.0.2' })
      const sc = fakeNodeAddr({ n01: '2001:DB8::0:1', n02: 'n02.cluster' })
      const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n01', 'n02'])).toEqual({ clients: ['2001:db8::1', '10.0.0.2'], problems: [] })
    })

    it('reports every node when scontrol fails, and asks again after 60 s', async () => {
      const c = clock()
      const dns = fakeDns({})
      let fail = true
      const calls: string[][] = []
      const nodeAddr = async (names: string[]) => {
        calls.push([...names])
        if (fail) throw new Error('scontrol: slurmctld down')
        return new Map([
          ['n01', '10.0.0.1'],
          ['n02', '10.0.0.2'],
        ])
      }
      const addresses = nodeAddresses({ nodeAddr, resolve: dns.resolve, now: c.now })
      const failed = {
        clients: [],
        problems: ['node n01: NodeAddr unknown (scontrol: slurmctld down)', 'node n02: NodeAddr unknown (scontrol: slurmctld down)'],
      }
      expect(await addresses(['n01', 'n02'])).toEqual(failed)
      expect(dns.asked).toEqual([])
      fail = false
      c.advance(59_999)
      expect(await addresses(['n01', 'n02'])).toEqual(failed)
      expect(calls).toHaveLength(1)
      c.advance(1)
      expect(await addresses(['n01', 'n02'])).toEqual({ clients: ['10.0.0.1', '10.0.0.2'], problems: [] })
      expect(calls).toEqual([
        ['n01', 'n02'],
        ['n01', 'n02'],
      ])
    })

    it('reports a name DNS cannot resolve, or resolves to something that is not an address', async () => {
      const dns = fakeDns({ 'n02.cluster': 'not-an-ip' })
      const sc = fakeNodeAddr({ n01: 'n01.cluster', n02: 'n02.cluster', n03: '10.0.0.3' })
      const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n01', 'n02', 'n03'])).toEqual({
        clients: ['10.0.0.3'],
        problems: ['node n01: getaddrinfo ENOTFOUND n01.cluster', 'node n02: "n02.cluster" is not an address'],
      })
    })
  })

  describe('by template', () => {
    it('resolves the templated name and never asks scontrol', async () => {
      const dns = fakeDns({ 'n01-ib': '192.168.1.1', 'n02-ib': '192.168.1.2' })
      const sc = fakeNodeAddr({ n01: '10.0.0.1', n02: '10.0.0.2' })
      const addresses = nodeAddresses({ template: '{node}-ib', nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n01', 'n02'])).toEqual({ clients: ['192.168.1.1', '192.168.1.2'], problems: [] })
      expect(dns.asked.sort()).toEqual(['n01-ib', 'n02-ib'])
      expect(sc.calls).toEqual([])
    })

    it('replaces every {node} in the template and reports a name that does not resolve', async () => {
      const dns = fakeDns({ 'n01.n01-ib.example': '192.168.1.1' })
      const sc = fakeNodeAddr({})
      const addresses = nodeAddresses({
        template: '{node}.{node}-ib.example',
        nodeAddr: sc.nodeAddr,
        resolve: dns.resolve,
        now: clock().now,
      })
      expect(await addresses(['n01', 'n02'])).toEqual({
        clients: ['192.168.1.1'],
        problems: ['node n02: getaddrinfo ENOTFOUND n02.n02-ib.example'],
      })
      expect(sc.calls).toEqual([])
    })
  })

  describe('by file', () => {
    it('uses the file, never scontrol or DNS, and reports a node not in it', async () => {
      const file = nodeFile('n01 10.0.0.1\nn02 10.0.0.2\n')
      const dns = fakeDns({ n03: '10.0.0.3' })
      const sc = fakeNodeAddr({ n03: '10.0.0.3' })
      const addresses = nodeAddresses({ file, nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
      expect(await addresses(['n02', 'n01', 'n03'])).toEqual({
        clients: ['10.0.0.2', '10.0.0.1'],
        problems: [`node n03: not in ${file}`],
      })
      expect(dns.asked).toEqual([])
      expect(sc.calls).toEqual([])
    })

    it('reads the file when made, so a bad file fails at once', () => {
      const file = nodeFile('n01\n')
      expect(() => nodeAddresses({ file, nodeAddr: fakeNodeAddr({}).nodeAddr })).toThrow(`${file}:1: expected "node address"`)
    })
  })

  describe('caching', () => {
    it('keeps an answer for 10 minutes, then asks again', async () => {
      const c = clock()
      const table: Record<string, string> = { 'n01-ib': '192.168.1.1' }
      const dns = fakeDns(table)
      const addresses = nodeAddresses({ template: '{node}-ib', nodeAddr: fakeNodeAddr({}).nodeAddr, resolve: dns.resolve, now: c.now })
      expect(await addresses(['n01'])).toEqual({ clients: ['192.168.1.1'], problems: [] })
      table['n01-ib'] = '192.168.9.9'
      expect(await addresses(['n01'])).toEqual({ clients: ['192.168.1.1'], problems: [] })
      c.advance(10 * 60_000 - 1)
      expect(await addresses(['n01'])).toEqual({ clients: ['192.168.1.1'], problems: [] })
      expect(dns.asked).toEqual(['n01-ib'])
      c.advance(1)
      expect(await addresses(['n01'])).toEqual({ clients: ['192.168.9.9'], problems: [] })
      expect(dns.asked).toEqual(['n01-ib', 'n01-ib'])
    })

    it('asks only about the nodes not cached', async () => {
      const c = clock()
      const dns = fakeDns({ 'n01.c': '10.0.0.1', 'n02.c': '10.0.0.2' })
      const sc = fakeNodeAddr({ n01: 'n01.c', n02: 'n02.c' })
      const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: c.now })
      await addresses(['n01'])
      c.advance(1000)
      expect(await addresses(['n01', 'n02'])).toEqual({ clients: ['10.0.0.1', '10.0.0.2'], problems: [] })
      expect(sc.calls).toEqual([['n01'], ['n02']])
      expect(dns.asked).toEqual(['n01.c', 'n02.c'])
      expect(await addresses(['n02', 'n01'])).toEqual({ clients: ['10.0.0.2', '10.0.0.1'], problems: [] })
      expect(sc.calls).toHaveLength(2)
    })

    it('keeps a failure for 60 s only, then asks again', async () => {
      const c = clock()
      const table: Record<string, string> = {}
      const dns = fakeDns(table)
      const addresses = nodeAddresses({ template: '{node}-ib', nodeAddr: fakeNodeAddr({}).nodeAddr, resolve: dns.resolve, now: c.now })
      const failed = { clients: [], problems: ['node n01: getaddrinfo ENOTFOUND n01-ib'] }
      expect(await addresses(['n01'])).toEqual(failed)
      table['n01-ib'] = '192.168.1.1'
      c.advance(59_999)
      expect(await addresses(['n01'])).toEqual(failed)
      expect(dns.asked).toEqual(['n01-ib'])
      c.advance(1)
      expect(await addresses(['n01'])).toEqual({ clients: ['192.168.1.1'], problems: [] })
      expect(dns.asked).toEqual(['n01-ib', 'n01-ib'])
    })
  })

  it('removes duplicate addresses and asks once about a node listed twice', async () => {
    const dns = fakeDns({ 'n01-ib': '192.168.1.1', 'n02-ib': '192.168.1.1', 'n03-ib': '192.168.1.3' })
    const addresses = nodeAddresses({ template: '{node}-ib', nodeAddr: fakeNodeAddr({}).nodeAddr, resolve: dns.resolve, now: clock().now })
    expect(await addresses(['n01', 'n02', 'n03', 'n01'])).toEqual({ clients: ['192.168.1.1', '192.168.1.3'], problems: [] })
    expect(dns.asked.sort()).toEqual(['n01-ib', 'n02-ib', 'n03-ib'])
  })

  it('gives nothing for no nodes, without asking anyone', async () => {
    const dns = fakeDns({})
    const sc = fakeNodeAddr({})
    const addresses = nodeAddresses({ nodeAddr: sc.nodeAddr, resolve: dns.resolve, now: clock().now })
    expect(await addresses([])).toEqual({ clients: [], problems: [] })
    expect(sc.calls).toEqual([])
    expect(dns.asked).toEqual([])
  })
})
