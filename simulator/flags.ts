/** The flags of `qactivity simulate`, apart from the simulator so that help and completion load nothing else. */

export const SIMULATE_USAGE = `Usage: qactivity simulate [options]

  --scenario FILE        scenario JSON (default: simulator/scenarios/demo.json)
  --scale N              instead of a scenario: N activity entries on N files from 200 clients
  --port N               listen port, 0 for any free port (default 8000)
  --host H               listen address (default 127.0.0.1)
  --https                serve HTTPS with a fresh self-signed certificate
  --ca-out FILE          with --https: write the certificate there, for QUMULO_CA_FILE
  --latency-ms N         delay every response by N ms (default 0)
  --error-rate F         answer this fraction (0-1) of authenticated requests with 503 (default 0)
  --token-lifetime S     session token lifetime in seconds (default 36000)
  --user NAME:PASSWORD   login user, repeatable (default admin:admin)
  --access-token TOKEN   accepted access-v1: token, repeatable
`

export const SIMULATE_FLAGS = {
  scenario: { type: 'string' },
  scale: { type: 'string' },
  port: { type: 'string', default: '8000' },
  host: { type: 'string', default: '127.0.0.1' },
  https: { type: 'boolean', default: false },
  'ca-out': { type: 'string' },
  'latency-ms': { type: 'string' },
  'error-rate': { type: 'string' },
  'token-lifetime': { type: 'string' },
  user: { type: 'string', multiple: true },
  'access-token': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h', default: false },
} as const
