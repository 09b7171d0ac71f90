/**
 * The Sentinel and Cluster examples of docs/deployment.md, run as written: real redis-servers, Sentinels and a
 * cluster, two real service processes from dist/, the users CLI and curl. The only changes: free ports instead
 * of the documented ones, and a temporary directory instead of ./demo-ha or ./demo-cluster.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test, type Test } from 'tap'
import { tempDir } from '../helper.js'
import { freeClusterPort } from '../helpers/redis-cluster.js'
import { freePort } from '../helpers/redis-server.js'

const doc = readFileSync('docs/deployment.md', 'utf8')

function block (name: string): string {
  return new RegExp(`<!-- deployment-example:${name}:start[^>]*-->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n<!-- deployment-example:${name}:end -->`).exec(doc)?.[1] ?? ''
}

/** The commands (continued lines joined), each with the output the doc shows right under it. */
function steps (text: string): Array<{ command: string, shown: string }> {
  const result: Array<{ command: string, shown: string }> = []
  let command = ''
  let previousWasCommand = false
  for (const line of text.split('\n')) {
    if (line.startsWith('# ')) {
      const last = result.at(-1)
      if (previousWasCommand && last !== undefined) last.shown = line.slice(2)
      previousWasCommand = false
    } else if (line.trim() === '') {
      previousWasCommand = false
    } else {
      command += line.endsWith('\\') ? line.slice(0, -1) : line
      if (!line.endsWith('\\')) {
        result.push({ command, shown: '' })
        command = ''
        previousWasCommand = true
      }
    }
  }
  return result
}

/** Runs a documented block with its ports and directory replaced; checks every output the doc shows. */
async function runExample (t: Test, name: string, directory: string, ports: Map<string, number>, errorsExpected = false): Promise<void> {
  const text = block(name)
  t.ok(text.length > 0, `the doc has the ${name} block`)
  const work = tempDir(t, `deployment-${name}-`)
  const adapt = (command: string): string => {
    let adapted = command
      .replaceAll(`$PWD/${directory}`, work)
      .replaceAll(new RegExp(`\\b${directory}/`, 'g'), `${work}/`)
      .replaceAll(new RegExp(`\\b${directory}\\b`, 'g'), work)
    for (const [documented, free] of ports) adapted = adapted.replaceAll(new RegExp(`\\b${documented}\\b`, 'g'), String(free))
    return adapted
  }
  const script = steps(text)
  const lines = script.map(({ command }, i) => `{ ${adapt(command)}; } > ${work}/out-${i}.txt`)
  // Whatever happens, nothing started by the example outlives the test.
  const cleanup = `trap 'status=$?; set +e; kill $A $B 2>/dev/null; for f in ${work}/*.pid; do kill -9 "$(cat "$f")" 2>/dev/null; done; exit $status' EXIT`
  const run = spawnSync('bash', ['-c', ['set -e', cleanup, ...lines].join('\n')], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? work, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000
  })
  const ran = script.findIndex((_, i) => { try { readFileSync(`${work}/out-${i + 1}.txt`); return false } catch { return true } })
  t.equal(run.status, 0, `the commands exit 0 (last started: ${script[ran]?.command ?? ''}) ${run.stderr}`)
  for (const [i, step] of script.entries()) {
    if (step.shown === '') continue
    const output = readFileSync(`${work}/out-${i}.txt`, 'utf8').trim()
    if (step.shown.startsWith('added alice')) t.match(output, /^added alice \(id [A-Za-z0-9_-]{22}\)$/, step.command)
    else t.equal(output, step.shown, step.command)
  }
  const logs = readFileSync(`${work}/a.log`, 'utf8') + readFileSync(`${work}/b.log`, 'utf8')
  t.notMatch(logs, /correct horse/, 'no password in the logs')
  // During a failover the instances log the 503s they answer; otherwise nothing goes wrong.
  if (!errorsExpected) t.notMatch(logs, /"level":50/, 'no error in the logs')
}

test('the Sentinel example of docs/deployment.md works as written, failover included', async (t) => {
  const ports = new Map<string, number>()
  for (const port of ['6380', '6381', '6382', '26379', '26380', '26381', '3001', '3002']) ports.set(port, await freePort())
  await runExample(t, 'sentinel', 'demo-ha', ports, true)
})

test('the Cluster example of docs/deployment.md works as written', async (t) => {
  const ports = new Map<string, number>()
  for (const port of ['7001', '7002', '7003']) ports.set(port, await freeClusterPort())
  for (const port of ['3001', '3002']) ports.set(port, await freePort())
  await runExample(t, 'cluster', 'demo-cluster', ports)
})
