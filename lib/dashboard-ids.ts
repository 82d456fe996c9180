/**
 * Names the dashboards and what links to them (reports, the README) share: the dashboards are
 * built in dashboards/, reports only need to know where they are.
 */

/** The two dashboard flavours: one definition, rendered for an InfluxQL or a Flux datasource. */
export type Flavour = 'influxql' | 'flux'
export const FLAVOURS: readonly Flavour[] = ['influxql', 'flux']

/** Dashboard UIDs (links between dashboards, from reports, and in the README). */
export const UID = {
  cluster: (f: Flavour) => `qactivity-cluster-${f}`,
  job: (f: Flavour) => `qactivity-job-${f}`,
  compare: (f: Flavour) => `qactivity-compare-${f}`,
  usage: (f: Flavour) => `qactivity-usage-${f}`,
}
