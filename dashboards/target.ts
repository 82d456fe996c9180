import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog'
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard'

import type { Flavour } from '../lib/dashboard-ids.ts'

export { FLAVOURS, UID, type Flavour } from '../lib/dashboard-ids.ts'

/** The Grafana release the dashboards are written for (docker-compose.yml pins the same image tag). */
export const GRAFANA_VERSION = '12.4.12'

/** Provisioned datasource UIDs (provisioning/datasources/influxdb.yaml). */
export const DATASOURCE: Record<Flavour, DataSourceRef> = {
  influxql: { type: 'influxdb', uid: 'qactivity-influxql' },
  flux: { type: 'influxdb', uid: 'qactivity-flux' },
}

/** A query in both languages; `format` is how Grafana's InfluxQL mode returns it. */
export interface PanelQuery {
  influxql: string
  flux: string
  /** @defaultValue 'time_series' */
  format?: 'time_series' | 'table'
  /** InfluxQL legend alias (`$tag_client_ip`, `$col`) */
  alias?: string
}

/**
 * The Grafana InfluxDB datasource's query model (the Foundation SDK ships no InfluxDB query type):
 * raw InfluxQL (`rawQuery: true`, `query`, `resultFormat`) or Flux (`query`).
 */
export interface InfluxTarget {
  refId?: string
  hide?: boolean
  datasource: DataSourceRef
  query: string
  rawQuery?: boolean
  resultFormat?: 'time_series' | 'table'
  alias?: string
  _implementsDataqueryVariant(): void
}

export class InfluxTargetBuilder implements Builder<Dataquery> {
  private readonly internal: InfluxTarget

  constructor(flavour: Flavour, q: PanelQuery, refId = 'A') {
    this.internal = { refId, datasource: DATASOURCE[flavour], query: q[flavour], _implementsDataqueryVariant() {} }
    if (flavour === 'influxql') {
      this.internal.rawQuery = true
      this.internal.resultFormat = q.format ?? 'time_series'
      if (q.alias) this.internal.alias = q.alias
    }
  }

  build(): InfluxTarget {
    return this.internal
  }
}

/** Grafana's built-in annotations filtered by tags (the SDK's AnnotationTargetBuilder does not type-check here). */
export class TagsTargetBuilder implements Builder<Dataquery> {
  constructor(private readonly tags: string[]) {}

  build(): Dataquery & Record<string, unknown> {
    return { type: 'tags', tags: this.tags, limit: 500, matchAny: false, _implementsDataqueryVariant() {} }
  }
}
