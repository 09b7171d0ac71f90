/**
 * The two-instance example of docs/deployment.md, run as written: a real redis-server, two real service
 * processes from dist/, the users CLI and curl. The only changes: free ports instead of 6390, 3001 and 3002,
 * and a temporary directory instead of ./demo.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { tempDir } from '../helper.js'
import { freePort } from '../helpers/redis-server.js'

const doc = readFileSync('docs/deployment.md', 'utf8')
const block = /<!-- deployment-example:start[^>]*-->\n```sh\n([\s\S]*?)```\n<!-- deployment-example:end -->/.exec(doc)?.[1] ?? ''

/** The commands (continued lines joined), each with the output the doc shows right under it. */
function steps (): Array<{ command: string, shown: string }> {
  const result: Array<{ command: string, shown: string }> = []
  let command = ''
  let previousWasCommand = false
  for (const line of block.split('\n')) {
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

test('the two-instance example of docs/deployment.md works as written', async (t) => {
  t.ok(block.length > 0, 'the doc has the example block')
  const work = tempDir(t, 'deployment-example-')
  const [redisPort, portA, portB] = [await freePort(), await freePort(), await freePort()]
  const script = steps()
  t.equal(script.length, 13, 'thirteen commands')
  const adapt = (command: string): string => command
    .replaceAll('$PWD/demo', work)
    .replaceAll(/\bdemo\//g, `${work}/`)
    .replaceAll('mkdir -p demo', `mkdir -p ${work}`)
    .replaceAll('6390', String(redisPort))
    .replaceAll('3001', String(portA))
    .replaceAll('3002', String(portB))
  const lines = script.map(({ command }, i) => `{ ${adapt(command)}; } > ${work}/out-${i}.txt`)
  // Whatever happens, nothing started by the example outlives the test.
  // (set +e: the example stops them itself, so these kills usually find nothing, which must not count.)
  const cleanup = `trap 'status=$?; set +e; kill $A $B 2>/dev/null; kill "$(cat ${work}/redis.pid 2>/dev/null)" 2>/dev/null; exit $status' EXIT`
  const run = spawnSync('bash', ['-c', ['set -e', cleanup, ...lines].join('\n')], {
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? work, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000
  })
  t.equal(run.status, 0, `the commands exit 0 ${run.stderr}`)
  const output = (i: number): string => readFileSync(`${work}/out-${i}.txt`, 'utf8').trim()
  t.match(output(3), /^added alice \(id [A-Za-z0-9_-]{22}\)$/, 'the users CLI added the user')
  const id = /id ([A-Za-z0-9_-]{22})/.exec(output(3))?.[1]
  const login = JSON.parse(output(7))
  t.match(login, { user: { id, username: 'alice', roles: [] }, session: { id: String } })
  t.same(JSON.parse(output(8)), login, 'the second instance serves the session the first one opened')
  t.equal(output(10), '204')
  t.equal(output(11), script[11]?.shown, 'the first instance refuses the logged-out cookie, exactly as shown')
  t.notMatch(readFileSync(`${work}/a.log`, 'utf8') + readFileSync(`${work}/b.log`, 'utf8'), /correct horse|"level":50/, 'no password and no error in the logs')
})
