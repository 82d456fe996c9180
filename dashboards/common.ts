import {
  AnnotationQueryBuilder,
  ConstantVariableBuilder,
  DashboardBuilder,
  DashboardLinkBuilder,
  DashboardLinkType,
  QueryVariableBuilder,
  VariableHide,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries'
import {
  TableSortByFieldStateBuilder,
  LegendDisplayMode,
  LegendPlacement,
  VizOrientation,
  BigValueGraphMode,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common'
import { DATASOURCE, GRAFANA_VERSION, InfluxTargetBuilder, TagsTargetBuilder, UID, type Flavour, type PanelQuery } from './target.ts'

export { UID }

/** Grafana units used by the dashboards. */
export const UNIT = { iops: 'iops', bytesPerSecond: 'Bps', bytes: 'bytes', ops: 'short', seconds: 's', count: 'short' } as const

export const FLAVOUR_TITLE: Record<Flavour, string> = { influxql: 'InfluxQL', flux: 'Flux' }

/** A dashboard with the settings every qactivity dashboard shares: tags, time, refresh, poll and bucket constants. */
export function dashboard(flavour: Flavour, uid: string, title: string, description: string, defaultRange = 'now-6h'): DashboardBuilder {
  const d = new DashboardBuilder(`${title} (${FLAVOUR_TITLE[flavour]})`)
    .uid(uid)
    .description(description)
    .tags(['qactivity', flavour])
    .editable()
    .time({ from: defaultRange, to: 'now' })
    .refresh('1m')
    .timezone('browser')
    .withVariable(
      new ConstantVariableBuilder('poll')
        .label('Poll interval (s)')
        .description("The collector's QACTIVITY_POLL_SECONDS: each point stands for this many seconds")
        .value('60'),
    )
    .link(
      new DashboardLinkBuilder('qactivity')
        .type(DashboardLinkType.Dashboards)
        .tags(['qactivity', flavour])
        .asDropdown(true)
        .includeVars(false)
        .keepTime(true),
    )
  if (flavour === 'flux')
    d.withVariable(new ConstantVariableBuilder('bucket').label('Bucket').description('INFLUX_BUCKET').value('qactivity'))
  return d
}

/** A query variable over a tag's values, optionally multi-valued with "All" = `.*`. */
export function tagVariable(
  flavour: Flavour,
  name: string,
  label: string,
  query: { influxql: string; flux: string },
  opts: { multi?: boolean; all?: boolean; sortDesc?: boolean; hide?: boolean } = {},
): QueryVariableBuilder {
  const v = new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE[flavour])
    .query(query[flavour])
    .definition(query[flavour])
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(opts.sortDesc ? VariableSort.AlphabeticalDesc : VariableSort.AlphabeticalAsc)
    .allowCustomValue(false)
  if (opts.multi) v.multi(true)
  if (opts.multi && opts.all !== false) v.includeAll(true).allValue('.*')
  if (opts.hide) v.hide(VariableHide.HideVariable)
  return v
}

/** Job start/end regions and comments: Grafana's own annotations with all of these tags (README: Dashboards). */
export function annotations(name: string, tags: string[]): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name(name)
    .datasource({ type: 'grafana', uid: '-- Grafana --' })
    .enable(true)
    .iconColor('#8f3bb8')
    .target(new TagsTargetBuilder(tags))
}

export const legend = () =>
  new VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(LegendDisplayMode.Table)
    .placement(LegendPlacement.Bottom)
    .calcs(['mean', 'max'])

/** The builder methods every panel type of the SDK shares. */
interface PanelSetters<T> {
  title(t: string): T
  description(d: string): T
  datasource(ds: typeof DATASOURCE.influxql): T
  withTarget(t: InfluxTargetBuilder): T
  unit(u: string): T
  span(w: number): T
  height(h: number): T
}

/** What every qactivity panel has: title, description, the flavour's datasource, one query, a unit, a size. */
export function panel<T extends PanelSetters<T>>(
  builder: T,
  flavour: Flavour,
  title: string,
  description: string,
  unit: string,
  query: PanelQuery,
  w: number,
  h: number,
): T {
  return builder
    .title(title)
    .description(description)
    .datasource(DATASOURCE[flavour])
    .withTarget(new InfluxTargetBuilder(flavour, query))
    .unit(unit)
    .span(w)
    .height(h)
}

export function timeseries(
  flavour: Flavour,
  title: string,
  description: string,
  unit: string,
  query: PanelQuery,
  w = 12,
  h = 8,
): TimeseriesBuilder {
  return panel(new TimeseriesBuilder(), flavour, title, description, unit, query, w, h).min(0).fillOpacity(10).legend(legend())
}

export function stat(flavour: Flavour, title: string, description: string, unit: string, query: PanelQuery, w = 8, h = 5): StatBuilder {
  return panel(new StatBuilder(), flavour, title, description, unit, query, w, h)
    .graphMode(BigValueGraphMode.None)
    .orientation(VizOrientation.Horizontal)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
}

export function table(flavour: Flavour, title: string, description: string, unit: string, query: PanelQuery, w = 12, h = 10): TableBuilder {
  return panel(new TableBuilder(), flavour, title, description, unit, query, w, h)
}

/**
 * Gives every panel a unique id in order (the SDK leaves them unset) and the Grafana version its
 * options are written for: without `pluginVersion`, Grafana runs the panel's migrations from old
 * formats on load (the XY chart's turns `mapping: auto` into an empty manual mapping).
 */
export function numbered(d: Dashboard): Dashboard {
  ;(d.panels ?? []).forEach((p, i) => Object.assign(p, { id: i + 1, pluginVersion: GRAFANA_VERSION }))
  return d
}

/** A table's initial sort: this column, descending. */
export const byDesc = (column: string) => new TableSortByFieldStateBuilder().displayName(column).desc(true)
