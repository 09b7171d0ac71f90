/**
 * docs/examples/grafana-dashboard.json asks only for what the service serves: every metric name in every
 * panel's expression (and in the template variables) is in a real scrape of the metrics listener, and every
 * label it filters or groups by is one of that metric's labels (or one Prometheus adds: job, instance, le).
 */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { listenMetrics } from '../../src/service/metrics-server.js'
import { buildTestApp, loggedIn, addUser, ManualClock } from '../helper.js'
import { scrape, type Scrape } from '../helpers/prometheus.js'

interface Target { expr: string }
interface Panel { title: string, type: string, targets?: Target[], datasource?: { uid?: string } }
interface Dashboard { panels: Panel[], templating: { list: Array<{ name: string, definition?: string }> } }

const ADDED_BY_PROMETHEUS = new Set(['job', 'instance', 'le'])

/** Metric names and label names a PromQL expression uses (enough PromQL for these dashboards). */
export function promqlNames (expr: string): { metrics: string[], labels: string[] } {
  const labels: string[] = []
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
  for (const matcher of withoutStrings.matchAll(/\{([^}]*)\}/g)) {
    for (const label of (matcher[1] as string).matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) labels.push(label[1] as string)
  }
  for (const group of withoutStrings.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    labels.push(...(group[1] as string).split(',').map((l) => l.trim()).filter((l) => l !== ''))
  }
  const bare = withoutStrings
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without)\s*\([^)]*\)/g, ' ')
  const metrics = [...bare.matchAll(/[A-Za-z_:][\w:]*(?!\w)(?!\s*\()/g)].map((m) => m[0]).filter((name) => !/^\d/.test(name))
  return { metrics, labels }
}

function family (s: Scrape, name: string): string | undefined {
  if (s.types.has(name)) return name
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1]
  return histogram !== undefined && s.types.get(histogram) === 'histogram' ? histogram : undefined
}

test('the PromQL reader finds metric and label names', async (t) => {
  t.same(promqlNames('histogram_quantile(0.99, sum by (le, operation) (rate(a_seconds_bucket{job=~"$job"}[$__rate_interval])))'),
    { metrics: ['a_seconds_bucket'], labels: ['job', 'le', 'operation'] })
  t.same(promqlNames('sum(rate(x_total{outcome="reuse_detected"}[5m])) / sum(rate(y_total[5m]))'), { metrics: ['x_total', 'y_total'], labels: ['outcome'] })
  t.same(promqlNames('label_values(z_total, job)'), { metrics: ['z_total', 'job'], labels: [] })
})

test('every metric and label of the Grafana dashboard is served by the metrics listener', async (t) => {
  const dashboard = JSON.parse(readFileSync('docs/examples/grafana-dashboard.json', 'utf8')) as Dashboard
  const clock = new ManualClock()
  const app = await buildTestApp(t, { clock: clock.now, env: { METRICS_PORT: '0' } })
  const address = await listenMetrics(app)
  await addUser(app)
  const c = await loggedIn(t, app, 'alice', undefined, clock)
  clock.advance(1)
  await c.request('POST', '/auth/refresh')
  const s = await scrape(`http://127.0.0.1:${address?.port ?? 0}/metrics`)
  const registry = app.metricsRegistry
  if (registry === undefined) throw new Error('metrics are on')

  const expressions = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: panel.title, expr: target.expr })))
  t.ok(expressions.length >= 15, `${expressions.length} expressions`)
  const job = dashboard.templating.list.find((v) => v.name === 'job')?.definition ?? ''
  const labelsOf = (name: string): string[] => (registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? []
  /** What an expression asks for that the scrape lacks: unknown metric names, and labels none of its metrics has. */
  const missing = (expr: string): { metrics: string[], labels: string[], found: string[] } => {
    const { metrics, labels } = promqlNames(expr)
    const found = metrics.map((m) => family(s, m)).filter((f): f is string => f !== undefined)
    const known = new Set([...ADDED_BY_PROMETHEUS, ...found.flatMap(labelsOf)])
    return { metrics: metrics.filter((m) => family(s, m) === undefined), labels: labels.filter((l) => !known.has(l)), found }
  }
  t.same(missing('sum by (outcome) (rate(stateless_session_logins_total[5m]))'), { metrics: [], labels: [], found: ['stateless_session_logins_total'] })
  t.same(missing('sum by (result) (rate(stateless_session_logins_totals{kind="x"}[5m]))'), { metrics: ['stateless_session_logins_totals'], labels: ['kind', 'result'], found: [] }, 'the check catches a wrong name and wrong labels')

  const used = new Set<string>()
  for (const { where, expr } of [...expressions, { where: 'variable job', expr: job.replace(/,\s*job\)/, ')') }]) {
    const result = missing(expr)
    t.ok(result.found.length > 0, `${where}: names a metric`)
    t.same(result.metrics, [], `${where}: every metric is in the scrape`)
    t.same(result.labels, [], `${where}: every label is one of its metrics'`)
    for (const name of result.found) used.add(name)
  }
  for (const panel of dashboard.panels) if (panel.type !== 'row') t.equal(panel.datasource?.uid, '$' + '{datasource}', `${panel.title}: the data source variable`)
  const ours = [...s.types.keys()].filter((name) => name.startsWith('stateless_session_'))
  t.same(ours.filter((name) => !used.has(name)), [], 'every session metric has a panel')
  t.notOk(family(s, 'stateless_session_nope_total'), 'a misspelt name is caught')
})
