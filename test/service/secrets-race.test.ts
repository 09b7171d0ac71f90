/**
 * WORKERS=n starts n processes at once on one DATA_DIR: when none finds a generated development secret,
 * each generates one, and all of them must end up using the same (the first linked into place).
 */
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'tap'
import { tempDir } from '../helper.js'

const run = promisify(execFile)

test('processes generating the development secret at once all use the one on disk', async (t) => {
  const dir = tempDir(t)
  const secrets = await Promise.all(Array.from({ length: 4 }, async () =>
    (await run(process.execPath, [...process.execArgv, 'test/fixtures/processes/resolve-secret.ts', dir])).stdout))
  const onDisk = readFileSync(join(dir, 'session-secret'), 'utf8').trim()
  t.same(secrets, Array(4).fill(onDisk), 'every process uses the secret on disk')
  t.same(readdirSync(dir), ['session-secret'], 'no file left aside')
})
