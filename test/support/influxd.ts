export {
  freePort,
  startLocalInfluxd as startInfluxd,
  type LocalInfluxd as Influxd,
  type LocalInfluxdOptions as InfluxdOptions,
} from '../../lib/influx/local-server.ts'
