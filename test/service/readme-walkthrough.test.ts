/**
 * The README's curl walkthrough, run as written with the real curl binary and a cookie jar against the
 * real service started on a free port (the only change: the port).
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { tempDir } from '../helper.js'
import { startServer } from './server-process.js'

const readme = readFileSync('README.md', 'utf8')
const block = /<!-- walkthrough:start[^>]*-->\n```sh\n([\s\S]*?)```\n<!-- walkthrough:end -->/.exec(readme)?.[1] ?? ''

/** The commands of the block (continued lines joined), each with the output line the README shows. */
function steps (): Array<{ command: string, shown: string }> {
  const result: Array<{ command: string, shown: string }> = []
  let command = ''
  for (const line of block.split('\n')) {
    if (line.startsWith('# ')) {
      const last = result.at(-1)
      if (last !== undefined && last.shown === '') last.shown = line.slice(2)
    } else if (line.trim() !== '') {
      command += line.endsWith('\\') ? line.slice(0, -1) : line
      if (!line.endsWith('\\')) {
        result.push({ command, shown: '' })
        command = ''
      }
    }
  }
  return result
}

test('the README walkthrough works as written', async (t) => {
  t.ok(block.length > 0, 'the README has the walkthrough block')
  const dataDir = tempDir(t)
  const server = await startServer(t, { STORE: 'sqlite', DATA_DIR: dataDir, SESSION_SECRET: '' })
  const work = tempDir(t)
  const script = steps()
  t.equal(script.length, 7, 'seven commands')
  // One shell runs the commands in order, as a person would in a terminal; each one's output is kept.
  // The only changes: the port, and the cookie jar lives in a temporary directory.
  const lines = script.map(({ command }, i) => `{ ${command.replaceAll('localhost:3000', `localhost:${server.port}`).replaceAll('jar.txt', `${work}/jar.txt`)}; } > ${work}/out-${i}.txt`)
  const env = { ...process.env, DATA_DIR: dataDir, SESSION_SECRET: '', STORE: 'sqlite', LOG_LEVEL: 'warn' }
  const run = spawnSync('bash', ['-c', ['set -e', ...lines].join('\n')], { env, encoding: 'utf8', timeout: 180_000 })
  t.equal(run.status, 0, `the commands exit 0 ${run.stderr}`)
  const outputs = script.map((_, i) => readFileSync(`${work}/out-${i}.txt`, 'utf8').trim())
  const [, added, login, session, refresh, logout, after] = outputs
  t.match(added, /^added alice \(id [A-Za-z0-9_-]{22}\)$/)
  const id = /id ([A-Za-z0-9_-]{22})/.exec(added ?? '')?.[1]
  t.match(JSON.parse(login ?? '{}'), { user: { id, username: 'alice', roles: [] }, session: { id: String, accessExpiresAt: String } })
  t.match(JSON.parse(session ?? '{}'), { user: { id, username: 'alice' } })
  t.match(JSON.parse(refresh ?? '{}'), { user: { id }, session: { id: JSON.parse(login ?? '{}').session.id } })
  t.equal(logout, '204')
  t.equal(after, script[6]?.shown, 'the final 401 body is exactly what the README shows')
  t.match(readFileSync(`${work}/jar.txt`, 'utf8'), /Netscape HTTP Cookie File/)
  t.notMatch(server.output(), /a passphrase of your own choosing/, 'the password never reaches the log')
})
