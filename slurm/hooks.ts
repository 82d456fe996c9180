/**
 * What `qactivity slurm conf` installs (README "Slurm"): one controller hook for PrologSlurmctld and
 * EpilogSlurmctld, the settings file of `qactivity slurm sync`, a systemd unit for it, and the
 * slurm.conf lines to add. Pure text here; cli/slurm.ts writes the files.
 */

/** Everything the installed files name. */
export interface HookInstall {
  /** directory of the hook, settings and unit (`--hooks-dir`) @defaultValue '/etc/slurm/qactivity' */
  hooksDir: string
  /** the spool the hook writes to (`QACTIVITY_SLURM_SPOOL`) */
  spoolDir: string
  /** the slurm.conf the sync's Slurm commands read (controller hooks get no SLURM_CONF) */
  slurmConf: string
  /** Slurm's SlurmUser: the hooks run as it, the sync may too */
  slurmUser: string
  /** absolute command line of the installed qactivity: node and its script */
  qactivity: string[]
  /** the settings of the sync: QACTIVITY_URL, QACTIVITY_TOKEN, QACTIVITY_SLURM_* */
  settings: Record<string, string>
}

export const HOOK_FILE = 'qactivity-hook'
export const SETTINGS_FILE = 'settings.env'
export const UNIT_FILE = 'qactivity-slurm-sync.service'

/** Single-quoted for bash. */
const sq = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/**
 * The controller hook. It runs as SlurmUser with no PATH and SIGTERM blocked, at every job start and
 * end; it only notes the event in the spool — the hook's environment, written under a dot name and
 * renamed — which takes milliseconds and needs neither the network nor the API, then exits 0 so that
 * it can never fail or hold up a job. `qactivity slurm sync` does the rest. A spool it cannot write
 * is noted in `<spool>/hooks.log`, which the sync reports at `/healthz`.
 */
export function hookScript(i: Pick<HookInstall, 'spoolDir'>): string {
  return `#!/bin/bash
# qactivity Slurm hook, written by \`qactivity slurm conf\` (README "Slurm"). Installed as both
# PrologSlurmctld and EpilogSlurmctld; runs as SlurmUser on the controller at every job start and end.
# It only notes the event (the hook's SLURM_* environment) in the spool: no network, a few ms, always
# exit 0. \`qactivity slurm sync\` reads Slurm's own record of the job and tells the qactivity API.
spool=${sq(i.spoolDir)}
case \${SLURM_SCRIPT_CONTEXT:-} in
  prolog_slurmctld) kind=prolog ;;
  epilog_slurmctld) kind=epilog ;;
  *) exit 0 ;;
esac
t=\${EPOCHREALTIME//[.,]/}
[[ -n $t ]] || t=$(/bin/date +%s%6N) # bash before 5 has no EPOCHREALTIME
name="$t.$$.\${SLURM_JOB_ID:-0}.$kind"
if ! { /usr/bin/env -0 >"$spool/.$name" && /bin/mv -f "$spool/.$name" "$spool/$name"; } 2>/dev/null; then
  printf '%s %s of job %s: cannot write to %s\\n' "$(/bin/date -u +%FT%TZ)" "$kind" "\${SLURM_JOB_ID:-?}" "$spool" \\
    >>"$spool/hooks.log" 2>/dev/null
  /bin/rm -f "$spool/.$name" 2>/dev/null
fi
exit 0
`
}

/** `KEY=value` lines, quoted for systemd's EnvironmentFile and bash alike. */
export function settingsFile(i: Pick<HookInstall, 'settings'>): string {
  const lines = Object.entries(i.settings).map(([k, v]) => {
    if (/[\n\r"\\$`]/.test(v)) throw new Error(`${k}: newlines, quotes, backslashes, $ and \` cannot be written to the settings file`)
    return `${k}="${v}"`
  })
  const head = '# qactivity slurm sync settings, written by `qactivity slurm conf`: readable by SlurmUser (its owner) and root only.'
  return `${head}\n${lines.join('\n')}\n`
}

/** A systemd unit running the sync as SlurmUser on the controller. */
export function syncUnit(i: HookInstall): string {
  return `# qactivity slurm sync: keeps qactivity in line with Slurm (README "Slurm"). Run it on the slurmctld host.
[Unit]
Description=qactivity Slurm sync
Wants=network-online.target
After=network-online.target slurmctld.service

[Service]
Type=simple
User=${i.slurmUser}
EnvironmentFile=${i.hooksDir}/${SETTINGS_FILE}
ExecStart=${i.qactivity.map((a) => `"${a}"`).join(' ')} slurm sync
Restart=always
RestartSec=5
NoNewPrivileges=yes
ProtectSystem=full
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
`
}

/** The lines to add to slurm.conf. */
export function slurmConfLines(i: Pick<HookInstall, 'hooksDir'>): string[] {
  const hook = `${i.hooksDir}/${HOOK_FILE}`
  return [`PrologSlurmctld=${hook}`, `EpilogSlurmctld=${hook}`]
}
