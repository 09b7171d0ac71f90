/**
 * The layering rules of .dependency-cruiser.cjs: src/ keeps them (the same check `npm test` runs), and they
 * can fail: a fixture that breaks four of them is refused, each by its rule.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'

const root = fileURLToPath(new URL('..', import.meta.url))
const depcruise = fileURLToPath(new URL('../node_modules/dependency-cruiser/bin/dependency-cruise.mjs', import.meta.url))

function cruise (cwd: string): { status: number | null, violations: string[] } {
  const run = spawnSync(process.execPath, [depcruise, 'src', '--config', `${root}.dependency-cruiser.cjs`, '--output-type', 'json'], { cwd, encoding: 'utf8', timeout: 120_000 })
  const result = JSON.parse(run.stdout) as { summary: { error: number, violations: Array<{ rule: { name: string }, from: string, to: string }> } }
  return { status: result.summary.error, violations: result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to.replace(/^.*node_modules\//, 'node_modules/')}`) }
}

test('src/ keeps its layers', async (t) => {
  const { status, violations } = cruise(root)
  t.same(violations, [])
  t.equal(status, 0)
})

test('the rules fire on code that breaks them', async (t) => {
  const { status, violations } = cruise(fileURLToPath(new URL('fixtures/layers/', import.meta.url)))
  t.same(violations.sort(), [
    'client-takes-only-types-from-wire: src/client/bad-client.ts -> src/wire/shapes.ts',
    'no-circular: src/common/a.ts -> src/common/b.ts',
    'stores-below-session-and-users: src/stores/bad-store.ts -> src/users/user-store.ts',
    'tokens-without-fastify: src/tokens/bad-token.ts -> node_modules/fastify/fastify.js'
  ])
  t.equal(status, 4)
})
