/**
 * Writes the Grafana dashboards (infra/grafana/dashboards/*.json) from one description, so the four
 * dashboards share their variables, datasource references and PromQL conventions:
 *
 *   node infra/grafana/build-dashboards.ts          (test/infra/grafana-dashboards.test.ts checks the
 *                                                    committed JSON is what this writes)
 *
 * Conventions. Every query goes to the Prometheus datasource chosen by the `datasource` variable (by
 * uid; provisioned as `meshpipe-prometheus`). Rates use `$__rate_interval`. Error series are those
 * with an `error_type` label; error queries end in `or 0 * <traffic>` so a service without errors
 * shows 0, not "No data". Latency panels ask for exemplars: their points link to the trace through the
 * Prometheus datasource's `exemplarTraceIdDestinations` (provisioning/datasources/meshpipe.yml), and
 * the `trace_datasource_uid` variable names the Tempo or Jaeger datasource for the panels' links.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const PROMETHEUS_UID = 'meshpipe-prometheus';
export const TRACES_UID = 'meshpipe-traces';
/** A Grafana variable reference, `${name}` (written so no linter mistakes it for a JS template). */
function gv(name: string): string {
  return `\${${name}}`;
}

const DS = { type: 'prometheus', uid: gv('datasource') };
const SCHEMA_VERSION = 39;

type Json = Record<string, unknown>;

interface Target {
  expr: string;
  legend?: string;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  exemplar?: boolean;
  refId?: string;
}

interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat' | 'heatmap' | 'table' | 'nodeGraph' | 'bargauge';
  targets: Target[];
  w?: number;
  h?: number;
  unit?: string;
  stack?: boolean;
  links?: Json[];
  transformations?: Json[];
  options?: Json;
  fieldConfig?: Json;
}

interface Layout {
  x: number;
  y: number;
  rowHeight: number;
  id: number;
}

function target(t: Target, i: number): Json {
  return {
    datasource: DS,
    refId: t.refId ?? String.fromCharCode(65 + i),
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: t.instant !== true,
    instant: t.instant === true,
    format: t.format ?? 'time_series',
    exemplar: t.exemplar === true,
    editorMode: 'code',
  };
}

function panel(spec: PanelSpec, layout: Layout): Json {
  const w = spec.w ?? 12;
  const h = spec.h ?? 8;
  if (layout.x + w > 24) {
    layout.x = 0;
    layout.y += layout.rowHeight;
    layout.rowHeight = 0;
  }
  const gridPos = { x: layout.x, y: layout.y, w, h };
  layout.x += w;
  layout.rowHeight = Math.max(layout.rowHeight, h);
  const defaults: Json = { unit: spec.unit ?? 'short' };
  if (spec.type === 'timeseries') {
    defaults.custom = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: spec.stack ? 30 : 10,
      showPoints: 'never',
      stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
    };
  }
  return {
    id: layout.id++,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DS,
    gridPos,
    targets: spec.targets.map(target),
    fieldConfig: spec.fieldConfig ?? { defaults, overrides: [] },
    options:
      spec.options ??
      (spec.type === 'timeseries'
        ? {
            legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] },
            tooltip: { mode: 'multi', sort: 'desc' },
          }
        : {}),
    ...(spec.links === undefined ? {} : { links: spec.links }),
    ...(spec.transformations === undefined ? {} : { transformations: spec.transformations }),
  };
}

function row(title: string, layout: Layout): Json {
  if (layout.x > 0) {
    layout.y += layout.rowHeight;
    layout.x = 0;
    layout.rowHeight = 0;
  }
  const r = {
    id: layout.id++,
    type: 'row',
    title,
    collapsed: false,
    gridPos: { x: 0, y: layout.y, w: 24, h: 1 },
    panels: [],
  };
  layout.y += 1;
  return r;
}

const datasourceVariable: Json = {
  name: 'datasource',
  label: 'Prometheus',
  type: 'datasource',
  query: 'prometheus',
  current: { text: 'meshpipe Prometheus', value: PROMETHEUS_UID },
  hide: 0,
  refresh: 1,
  regex: '',
  options: [],
};

function queryVariable(name: string, label: string, query: string, multi: boolean): Json {
  return {
    name,
    label,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: `${name}-variable` },
    refresh: 2,
    sort: 1,
    multi,
    includeAll: multi,
    ...(multi ? { allValue: '.*', current: { text: 'All', value: '$__all' } } : { current: {} }),
    options: [],
    hide: 0,
    regex: '',
  };
}

// The traces datasource is chosen like the metrics one, from the datasources Grafana has (Tempo by
// default; provisioned as `meshpipe-traces`), not typed in by uid.
const traceDatasourceVariable: Json = {
  name: 'trace_datasource_uid',
  label: 'Traces datasource',
  type: 'datasource',
  query: 'tempo',
  current: { text: 'meshpipe traces', value: TRACES_UID },
  hide: 0,
  options: [],
  refresh: 1,
  regex: '',
};

function dashboard(
  uid: string,
  title: string,
  description: string,
  variables: Json[],
  build: (l: Layout) => Json[],
): Json {
  const layout: Layout = { x: 0, y: 0, rowHeight: 0, id: 1 };
  return {
    uid,
    title,
    description,
    tags: ['meshpipe'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    annotations: { list: [] },
    links: [
      {
        title: 'meshpipe',
        type: 'dashboards',
        tags: ['meshpipe'],
        asDropdown: true,
        includeVars: false,
        keepTime: true,
        icon: 'external link',
        targetBlank: false,
        tooltip: '',
        url: '',
      },
    ],
    templating: { list: variables },
    panels: build(layout),
  };
}

// ---- PromQL building blocks ------------------------------------------------------------------------

const SERVER = 'http_server_request_duration_seconds';
const CLIENT = 'http_client_request_duration_seconds';
const RATE = '[$__rate_interval]';

function rate(metric: string, selector: string): string {
  return `rate(${metric}{${selector}}${RATE})`;
}

/** errors / all by labels, 0 when there is traffic but no error. */
function errorRatio(metric: string, selector: string, by: string): string {
  const all = `sum by (${by}) (${rate(`${metric}_count`, selector)})`;
  const errors = `sum by (${by}) (${rate(`${metric}_count`, `${selector},error_type!=""`)})`;
  return `(${errors} / ${all}) or (0 * ${all})`;
}

function quantile(q: number, metric: string, selector: string, by: string): string {
  return `histogram_quantile(${q}, sum by (${by}${by === '' ? '' : ', '}le) (${rate(`${metric}_bucket`, selector)}))`;
}

// ---- the dashboards ----------------------------------------------------------------------------------

const serviceMulti = queryVariable('service', 'Service', `label_values(${SERVER}_count, service_name)`, true);
const serviceSingle = queryVariable(
  'service',
  'Service',
  `label_values(${SERVER}_count, service_name)`,
  false,
);
const routeMulti = queryVariable(
  'route',
  'Route',
  `label_values(${SERVER}_count{service_name="$service"}, http_route)`,
  true,
);

function overview(): Json {
  const sel = 'service_name=~"$service"';
  return dashboard(
    'meshpipe-red-overview',
    'meshpipe / RED overview',
    'Rate, errors and duration of every service meshpipe captured, from the server side (http.server.request.duration), and the calls each service makes.',
    [datasourceVariable, serviceMulti],
    (l) => [
      panel(
        {
          title: 'Requests',
          description: 'Requests per second answered by the selected services.',
          type: 'stat',
          w: 6,
          h: 4,
          unit: 'reqps',
          targets: [{ expr: `sum(${rate(`${SERVER}_count`, sel)})`, legend: 'requests/s' }],
        },
        l,
      ),
      panel(
        {
          title: 'Error ratio',
          description: 'Share of requests answered with 5xx or not answered.',
          type: 'stat',
          w: 6,
          h: 4,
          unit: 'percentunit',
          targets: [
            {
              expr: `(sum(${rate(`${SERVER}_count`, `${sel},error_type!=""`)}) / sum(${rate(`${SERVER}_count`, sel)})) or (0 * sum(${rate(`${SERVER}_count`, sel)}))`,
              legend: 'errors',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'p99 latency',
          description: '99th percentile of server-side request duration over the selected services.',
          type: 'stat',
          w: 6,
          h: 4,
          unit: 's',
          targets: [{ expr: quantile(0.99, SERVER, sel, ''), legend: 'p99' }],
        },
        l,
      ),
      panel(
        {
          title: 'Services',
          description: 'Services that answered requests in the selected range.',
          type: 'stat',
          w: 6,
          h: 4,
          unit: 'none',
          targets: [{ expr: `count(count by (service_name) (${SERVER}_count{${sel}}))`, legend: 'services' }],
        },
        l,
      ),
      panel(
        {
          title: 'Requests per second by service',
          description: 'The rate of http.server.request.duration observations: one per request answered.',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            { expr: `sum by (service_name) (${rate(`${SERVER}_count`, sel)})`, legend: '{{service_name}}' },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Error ratio by service',
          description: 'Errors per the HTTP conventions (5xx, no response) over all requests.',
          type: 'timeseries',
          unit: 'percentunit',
          targets: [{ expr: errorRatio(SERVER, sel, 'service_name'), legend: '{{service_name}}' }],
        },
        l,
      ),
      panel(
        {
          title: 'Latency p50 / p99 by service',
          description:
            'Server-side duration quantiles from the histogram buckets; points are exemplars linking to traces.',
          type: 'timeseries',
          unit: 's',
          targets: [
            {
              expr: quantile(0.99, SERVER, sel, 'service_name'),
              legend: '{{service_name}} p99',
              exemplar: true,
            },
            { expr: quantile(0.5, SERVER, sel, 'service_name'), legend: '{{service_name}} p50' },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Outgoing calls by service and peer',
          description:
            'Requests per second each service sends (http.client.request.duration), by the service it calls.',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            {
              expr: `sum by (service_name, peer_service) (${rate(`${CLIENT}_count`, sel)})`,
              legend: '{{service_name}} → {{peer_service}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Services at a glance',
          description: 'Rate, error ratio and p99 of every selected service over the dashboard range.',
          type: 'table',
          w: 24,
          targets: [
            {
              expr: `sum by (service_name) (rate(${SERVER}_count{${sel}}[$__range]))`,
              instant: true,
              format: 'table',
              refId: 'rate',
            },
            {
              expr: errorRatio(SERVER, sel, 'service_name').replaceAll(RATE, '[$__range]'),
              instant: true,
              format: 'table',
              refId: 'errors',
            },
            {
              expr: quantile(0.99, SERVER, sel, 'service_name').replace(RATE, '[$__range]'),
              instant: true,
              format: 'table',
              refId: 'p99',
            },
          ],
          transformations: [
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                renameByName: {
                  service_name: 'Service',
                  'Value #rate': 'Requests/s',
                  'Value #errors': 'Error ratio',
                  'Value #p99': 'p99 (s)',
                },
              },
            },
          ],
        },
        l,
      ),
    ],
  );
}

function serviceDetail(): Json {
  const sel = 'service_name="$service",http_route=~"$route"';
  // Explore on the traces datasource, searching the service's traces in the dashboard's range. The JSON
  // is URL-encoded except the variables, which Grafana interpolates (percent-encoded) when clicked.
  const pane = {
    traces: {
      datasource: gv('trace_datasource_uid'),
      queries: [{ refId: 'A', queryType: 'traceql', query: `{resource.service.name="${gv('service')}"}` }],
      range: { from: gv('__from'), to: gv('__to') },
    },
  };
  const explore = `/explore?schemaVersion=1&panes=${encodeURIComponent(JSON.stringify(pane)).replace(/%24%7B([A-Za-z_]+)%7D/g, (_m, name: string) => gv(`${name}:percentencode`))}`;
  const traceLinks = [{ title: `Traces of ${gv('service')}`, url: explore, targetBlank: true }];
  return dashboard(
    'meshpipe-service',
    'meshpipe / Service',
    'One service in detail: its routes, status codes, latency distribution with exemplars, and the services it calls.',
    [datasourceVariable, serviceSingle, routeMulti, traceDatasourceVariable],
    (l) => [
      row('Requests answered', l),
      panel(
        {
          title: 'Requests per second by route',
          description: 'By http.route (templated paths) and method.',
          type: 'timeseries',
          unit: 'reqps',
          stack: true,
          targets: [
            {
              expr: `sum by (http_route, http_request_method) (${rate(`${SERVER}_count`, sel)})`,
              legend: '{{http_request_method}} {{http_route}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Errors per second by route and error.type',
          description:
            'Requests answered with 5xx or not answered, by route and error.type (the status code, or why there was no response).',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            {
              expr: `sum by (http_route, error_type) (${rate(`${SERVER}_count`, `${sel},error_type!=""`)}) or (0 * sum by (http_route) (${rate(`${SERVER}_count`, sel)}))`,
              legend: '{{http_route}} {{error_type}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Responses by status code',
          description:
            'http.response.status_code; 4xx are not server errors per the conventions but show here.',
          type: 'timeseries',
          unit: 'reqps',
          stack: true,
          targets: [
            {
              expr: `sum by (http_response_status_code) (${rate(`${SERVER}_count`, sel)})`,
              legend: '{{http_response_status_code}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Latency p50 / p95 / p99',
          description: 'Server-side duration quantiles; exemplar points open the trace of that request.',
          type: 'timeseries',
          unit: 's',
          links: traceLinks,
          targets: [
            { expr: quantile(0.99, SERVER, sel, ''), legend: 'p99', exemplar: true },
            { expr: quantile(0.95, SERVER, sel, ''), legend: 'p95' },
            { expr: quantile(0.5, SERVER, sel, ''), legend: 'p50' },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Latency distribution',
          description:
            'Requests per duration bucket over time (semantic-convention buckets, 5 ms to 10 s); exemplars mark traced requests.',
          type: 'heatmap',
          w: 24,
          links: traceLinks,
          targets: [
            {
              expr: `sum by (le) (${rate(`${SERVER}_bucket`, sel)})`,
              legend: '{{le}}',
              format: 'heatmap',
              exemplar: true,
            },
          ],
          options: {
            calculate: false,
            yAxis: { unit: 's' },
            cellGap: 1,
            color: { mode: 'scheme', scheme: 'Oranges', steps: 64 },
            exemplars: { color: 'rgba(255,0,255,0.7)' },
            tooltip: { show: true, yHistogram: true },
            filterValues: { le: 1e-9 },
            rowsFrame: { layout: 'auto' },
          },
          fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' } } }, overrides: [] },
        },
        l,
      ),
      panel(
        {
          title: 'p99 by route',
          description: 'Server-side p99 of each route.',
          type: 'timeseries',
          unit: 's',
          targets: [
            { expr: quantile(0.99, SERVER, sel, 'http_route'), legend: '{{http_route}}', exemplar: true },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Callers',
          description: 'Who calls this service (peer.service; unknown callers have none).',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            { expr: `sum by (peer_service) (${rate(`${SERVER}_count`, sel)})`, legend: '{{peer_service}}' },
          ],
        },
        l,
      ),
      row('Calls it makes', l),
      panel(
        {
          title: 'Outgoing requests per second by peer',
          description: 'http.client.request.duration observations of this service, by the service called.',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            {
              expr: `sum by (peer_service, server_address) (${rate(`${CLIENT}_count`, 'service_name="$service"')})`,
              legend: '{{peer_service}} ({{server_address}})',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Outgoing error ratio by peer',
          description: 'Client-side errors: 4xx, 5xx, refused or reset connections.',
          type: 'timeseries',
          unit: 'percentunit',
          targets: [
            {
              expr: errorRatio(CLIENT, 'service_name="$service"', 'peer_service'),
              legend: '{{peer_service}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Outgoing p99 by peer',
          description: "Client-side duration: includes the network and the peer's queueing.",
          type: 'timeseries',
          unit: 's',
          w: 24,
          targets: [
            {
              expr: quantile(0.99, CLIENT, 'service_name="$service"', 'peer_service'),
              legend: '{{peer_service}}',
              exemplar: true,
            },
          ],
        },
        l,
      ),
    ],
  );
}

function serviceGraph(): Json {
  const req = 'traces_service_graph_request_total';
  const failed = 'traces_service_graph_request_failed_total';
  return dashboard(
    'meshpipe-service-graph',
    'meshpipe / Service graph',
    "Who calls whom, how often, how often it fails and how long it takes: Grafana Tempo's service-graph metrics (traces_service_graph_*), computed by red-metrics from captured spans.",
    [datasourceVariable],
    (l) => [
      panel(
        {
          title: 'Service graph',
          description:
            'Nodes are services (virtual nodes: callers or callees meshpipe did not capture); edges carry requests per second over the dashboard range.',
          type: 'nodeGraph',
          w: 24,
          h: 14,
          targets: [
            {
              refId: 'nodes',
              expr: `sum by (id) (label_replace(sum by (server) (rate(${req}[$__range])), "id", "$1", "server", "(.*)")) or sum by (id) (0 * label_replace(sum by (client) (rate(${req}[$__range])), "id", "$1", "client", "(.*)"))`,
              instant: true,
              format: 'table',
            },
            {
              refId: 'edges',
              expr: `label_join(sum by (client, server) (rate(${req}[$__range])), "id", "->", "client", "server")`,
              instant: true,
              format: 'table',
            },
          ],
          transformations: [
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                renameByName: {
                  client: 'source',
                  server: 'target',
                  'Value #nodes': 'mainstat',
                  'Value #edges': 'mainstat',
                },
              },
            },
          ],
          options: { nodes: { mainStatUnit: 'reqps' }, edges: { mainStatUnit: 'reqps' } },
        },
        l,
      ),
      panel(
        {
          title: 'Requests per second by edge',
          description:
            'traces_service_graph_request_total: counted once per call, by the first captured side.',
          type: 'timeseries',
          unit: 'reqps',
          targets: [
            { expr: `sum by (client, server) (rate(${req}${RATE}))`, legend: '{{client}} → {{server}}' },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Failed ratio by edge',
          description: 'traces_service_graph_request_failed_total over all requests of the edge.',
          type: 'timeseries',
          unit: 'percentunit',
          targets: [
            {
              expr: `(sum by (client, server) (rate(${failed}${RATE})) / sum by (client, server) (rate(${req}${RATE}))) or (0 * sum by (client, server) (rate(${req}${RATE})))`,
              legend: '{{client}} → {{server}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Server-side p99 by edge',
          description: 'traces_service_graph_request_server_seconds: what the server measured.',
          type: 'timeseries',
          unit: 's',
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (client, server, le) (rate(traces_service_graph_request_server_seconds_bucket${RATE})))`,
              legend: '{{client}} → {{server}}',
              exemplar: true,
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Client-side p99 by edge',
          description:
            'traces_service_graph_request_client_seconds: what the caller waited (network and queueing included).',
          type: 'timeseries',
          unit: 's',
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (client, server, le) (rate(traces_service_graph_request_client_seconds_bucket${RATE})))`,
              legend: '{{client}} → {{server}}',
              exemplar: true,
            },
          ],
        },
        l,
      ),
    ],
  );
}

function pipeline(): Json {
  const orZero = (expr: string, traffic: string) => `${expr} or (0 * ${traffic})`;
  const captured = `sum(rate(meshpipe_collector_events_captured_total${RATE}))`;
  const consumed = `sum by (processor) (rate(meshpipe_processor_records_consumed_total${RATE}))`;
  const sinkConsumed = `sum by (sink) (rate(meshpipe_sink_records_consumed_total${RATE}))`;
  return dashboard(
    'meshpipe-pipeline',
    'meshpipe / Pipeline health',
    "Loss accounting end to end: captured → dropped by stage and reason → produced → consumed → dead-lettered, and every component's lag. Every record is in exactly one of these counters.",
    [datasourceVariable],
    (l) => [
      row('Capture (collectors)', l),
      panel(
        {
          title: 'Captured events per second by kind',
          description:
            'meshpipe_collector_events_captured_total: raw events built from the capture (DATA, OPEN, CLOSE, CONNECT_FAILED).',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          stack: true,
          targets: [
            {
              expr: `sum by (kind) (rate(meshpipe_collector_events_captured_total${RATE}))`,
              legend: '{{kind}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Dropped per second by stage and reason',
          description:
            'meshpipe_collector_dropped_total: kernel (ring buffer, maps), loader, agent (buffer full) and kafka (produce failed). 0 while the collector runs and nothing is lost. Beside it, meshpipe_collector_truncated_total: records that arrived shortened, not lost (a head over collector.capBytes, unreadable user memory).',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            {
              expr: orZero(
                `sum by (stage, reason) (rate(meshpipe_collector_dropped_total${RATE}))`,
                captured,
              ),
              legend: '{{stage}} {{reason}}',
            },
            {
              expr: orZero(
                `sum by (stage, reason) (rate(meshpipe_collector_truncated_total${RATE}))`,
                captured,
              ),
              legend: 'truncated: {{stage}} {{reason}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Produced to Kafka per second',
          description: 'meshpipe_collector_events_produced_total: raw events the brokers acknowledged.',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            { expr: `sum(rate(meshpipe_collector_events_produced_total${RATE}))`, legend: 'produced' },
          ],
        },
        l,
      ),
      row('Processors', l),
      panel(
        {
          title: 'Consumed per second by processor',
          description:
            'meshpipe_processor_records_consumed_total: input records whose transaction committed.',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [{ expr: consumed, legend: '{{processor}}' }],
        },
        l,
      ),
      panel(
        {
          title: 'Produced per second by processor and topic',
          description: 'meshpipe_processor_records_produced_total: committed outputs.',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            {
              expr: `sum by (processor, topic) (rate(meshpipe_processor_records_produced_total${RATE}))`,
              legend: '{{processor}} → {{topic}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Dead letters per second by processor and code',
          description:
            'meshpipe_processor_dead_letters_total: records sent to the dead-letter topic, with the error code (docs/errors.md).',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            {
              expr: orZero(
                `sum by (processor, code) (rate(meshpipe_processor_dead_letters_total${RATE}))`,
                consumed,
              ),
              legend: '{{processor}} {{code}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Consumer lag by processor and topic',
          description:
            'meshpipe_processor_consumer_lag: records not yet processed (high watermark minus position), summed over partitions.',
          type: 'timeseries',
          w: 12,
          unit: 'short',
          targets: [
            {
              expr: 'sum by (processor, topic) (meshpipe_processor_consumer_lag)',
              legend: '{{processor}} {{topic}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Handler duration p99 by processor',
          description:
            'meshpipe_processor_handler_duration_seconds: time in process() and punctuate() calls.',
          type: 'timeseries',
          w: 12,
          unit: 's',
          targets: [
            {
              expr: `histogram_quantile(0.99, sum by (processor, kind, le) (rate(meshpipe_processor_handler_duration_seconds_bucket${RATE})))`,
              legend: '{{processor}} {{kind}}',
            },
          ],
        },
        l,
      ),
      row('Sinks', l),
      panel(
        {
          title: 'Consumed and exported per second by sink',
          description:
            'meshpipe_sink_records_consumed_total and meshpipe_sink_records_exported_total (acknowledged by the receiver).',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            { expr: sinkConsumed, legend: '{{sink}} consumed' },
            {
              expr: `sum by (sink) (rate(meshpipe_sink_records_exported_total${RATE}))`,
              legend: '{{sink}} exported',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Dead letters and retries per second by sink',
          description:
            'meshpipe_sink_dead_letters_total (by code) and meshpipe_sink_export_retries_total (by reason).',
          type: 'timeseries',
          w: 8,
          unit: 'ops',
          targets: [
            {
              expr: orZero(
                `sum by (sink, code) (rate(meshpipe_sink_dead_letters_total${RATE}))`,
                sinkConsumed,
              ),
              legend: '{{sink}} dead letters {{code}}',
            },
            {
              expr: orZero(
                `sum by (sink, reason) (rate(meshpipe_sink_export_retries_total${RATE}))`,
                sinkConsumed,
              ),
              legend: '{{sink}} retries {{reason}}',
            },
          ],
        },
        l,
      ),
      panel(
        {
          title: 'Consumer lag by sink',
          description: 'meshpipe_sink_consumer_lag: records not yet committed, summed over partitions.',
          type: 'timeseries',
          w: 8,
          unit: 'short',
          targets: [
            { expr: 'sum by (sink, topic) (meshpipe_sink_consumer_lag)', legend: '{{sink}} {{topic}}' },
          ],
        },
        l,
      ),
      row('Over the dashboard range', l),
      panel(
        {
          title: 'Loss funnel',
          description:
            'Totals over the range: what was captured, dropped before Kafka, produced, consumed by each processor, and dead-lettered anywhere.',
          type: 'bargauge',
          w: 24,
          h: 9,
          unit: 'short',
          options: {
            orientation: 'horizontal',
            displayMode: 'basic',
            showUnfilled: true,
            reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
          },
          targets: [
            {
              expr: 'sum(increase(meshpipe_collector_events_captured_total[$__range]))',
              instant: true,
              legend: '1 captured',
            },
            {
              expr: '(sum(increase(meshpipe_collector_dropped_total[$__range])) or (0 * sum(increase(meshpipe_collector_events_captured_total[$__range]))))',
              instant: true,
              legend: '2 dropped before Kafka',
            },
            {
              expr: 'sum(increase(meshpipe_collector_events_produced_total[$__range]))',
              instant: true,
              legend: '3 produced to Kafka',
            },
            {
              expr: 'sum by (processor) (increase(meshpipe_processor_records_consumed_total[$__range]))',
              instant: true,
              legend: '4 consumed by {{processor}}',
            },
            {
              expr: '(sum(increase(meshpipe_processor_dead_letters_total[$__range])) or (0 * sum(increase(meshpipe_processor_records_consumed_total[$__range]))))',
              instant: true,
              legend: '5 dead-lettered by processors',
            },
            {
              expr: 'sum by (sink) (increase(meshpipe_sink_records_exported_total[$__range]))',
              instant: true,
              legend: '6 exported by sink {{sink}}',
            },
          ],
        },
        l,
      ),
    ],
  );
}

export const DASHBOARDS: Record<string, () => Json> = {
  'meshpipe-red-overview.json': overview,
  'meshpipe-service.json': serviceDetail,
  'meshpipe-service-graph.json': serviceGraph,
  'meshpipe-pipeline.json': pipeline,
};

export function renderDashboard(build: () => Json): string {
  return `${JSON.stringify(build(), null, 2)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, build] of Object.entries(DASHBOARDS)) {
    writeFileSync(new URL(`./dashboards/${file}`, import.meta.url), renderDashboard(build));
  }
}
