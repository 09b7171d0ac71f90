/**
 * `npm ci` prints no EBADENGINE warning: every package in the lockfile accepts the oldest Node.js the project
 * declares (package.json `engines.node`). cookie@2 and content-disposition@3 declare Node 22; package.json
 * `overrides` puts cookie@1 and content-disposition@2 in their place, whose API their users (@fastify/cookie,
 * light-my-request, @fastify/static) call by the same names.
 */
import { readFileSync } from 'node:fs'
import semver from 'semver'
import { test } from 'tap'

const read = (file: string): unknown => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'))

test('every locked package supports the oldest Node.js the project declares', async (t) => {
  const manifest = read('package.json') as { engines: { node: string } }
  const oldest = semver.minVersion(manifest.engines.node)
  if (oldest === null) throw new Error(`engines.node ${manifest.engines.node} has no minimum`)
  t.ok(semver.satisfies(process.version, manifest.engines.node), `this Node.js (${process.version}) is in ${manifest.engines.node}`)
  const lock = read('package-lock.json') as { packages: Record<string, { version?: string, engines?: { node?: string } | string[] }> }
  const refusing: string[] = []
  for (const [path, entry] of Object.entries(lock.packages)) {
    const node = Array.isArray(entry.engines) ? undefined : entry.engines?.node
    if (path === '' || node === undefined) continue
    if (!semver.satisfies(oldest, node) || !semver.satisfies(process.version, node)) refusing.push(`${path}@${entry.version ?? '?'} wants node ${node}`)
  }
  t.same(refusing, [], `every package accepts Node.js ${oldest.version}`)
})
