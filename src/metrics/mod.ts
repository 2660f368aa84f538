/** Run metrics: the Prometheus text exposition and a DogStatsD client fed by the run store. */
export { DogStatsD, type DogStatsDOptions, MAX_DATAGRAM_BYTES } from "./_dogstatsd.ts";
export {
  type MetricsSource,
  PROMETHEUS_CONTENT_TYPE,
  type PrometheusOptions,
  renderPrometheus,
} from "./_prometheus.ts";
