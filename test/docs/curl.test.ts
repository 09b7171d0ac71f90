/**
 * docs/curl.md cannot drift: its `sh` blocks run, in order, in one bash, with the real curl against the real
 * service (SQLite store, default lifetimes) listening on a free localhost port, and each one's output must
 * match the `text` or `json` block that follows it.
 *
 * Before comparing, both sides lose what changes from run to run: tokens, ids (22 base64url characters),
 * times and curl's version. A `json` block is compared as data (arrays in any order: sessions created in the
 * same second are listed in id order). A `text` block starting with a status line shows some of the headers:
 * those must be there, as shown (others may be too); its body must be exact.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { FAST_HASH, tempDir, testEnv } from '../helper.js'

const DOC = join(import.meta.dirname, '..', '..', 'docs', 'curl.md')
const DOC_ORIGIN = 'http://localhost:3000'

export interface Step {
  command: string
  expected: { language: 'text' | 'json', body: string } | undefined
}

function isOutput (language: string): language is 'text' | 'json' {
  return language === 'text' || language === 'json'
}

/** The runnable steps of a Markdown document: each `sh` block with the output block right after it. */
export function stepsOf (markdown: string): { steps: Step[], setup: string[] } {
  const blocks = [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ language: m[1] ?? '', body: m[2] ?? '' }))
  const steps: Step[] = []
  const setup: string[] = []
  blocks.forEach((block, i) => {
    if (block.language === 'console') setup.push(block.body)
    if (block.language !== 'sh') return
    const next = blocks[i + 1]
    const output = next !== undefined && isOutput(next.language) ? { language: next.language, body: next.body } : undefined
    steps.push({ command: block.body, expected: output })
  })
  return { steps, setup }
}

export function normalize (text: string): string {
  return text
    .replace(/(__Host-session|__Secure-refresh|__Secure-pending-login)=[^;\s]+/g, '$1=<token>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/curl\/[\d.]+/g, 'curl/<version>')
    .replace(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{22}(?![A-Za-z0-9_-])/g, '<id>')
}

/** JSON with every array sorted, for comparison regardless of order. */
function canonical (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]))
  return value
}

test('docs/curl.md: every command gives the output shown', async (t) => {
  const { steps, setup } = stepsOf(readFileSync(DOC, 'utf8'))
  t.ok(steps.length >= 7, `${steps.length} steps`)
  t.ok(steps.every((s) => s.expected !== undefined), 'each with its expected output')
  const password = /printf '%s' '([^']+)' \| npm run users -- add carol --password-stdin/.exec(setup.join('\n'))?.[1]
  t.equal(password, 'correct horse battery staple', 'the setup creates carol (not the README\'s alice)')

  const app = await buildApp({
    passwordHashCost: FAST_HASH,
    env: testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t), SESSION_SECRET: '' })
  })
  t.teardown(async () => await app.close())
  await app.users.add('carol', password as string)
  await app.listen({ host: 'localhost', port: 0 })
  const origin = `http://localhost:${(app.server.address() as AddressInfo).port}`

  // One shell for the whole walkthrough (variables and cookie jars carry over), a marker before each step
  // on a line of its own (curl ends its output without a newline).
  const cwd = tempDir(t, 'curl-walkthrough-')
  const script = steps.map((step, i) => `printf '\\n@@step ${i}@@\\n'\n${step.command.replaceAll(DOC_ORIGIN, origin)}`).join('\n')
  writeFileSync(join(cwd, 'walkthrough.sh'), 'set -eu\n' + script + '\n')
  // Asynchronously: the service answering curl lives in this process.
  const output = await new Promise<string>((resolve, reject) => {
    execFile('bash', ['walkthrough.sh'], { cwd, encoding: 'utf8', timeout: 60_000 }, (error, stdout) => {
      if (error !== null) reject(error)
      else resolve(stdout)
    })
  })
  const outputs = output.split(/^@@step \d+@@\n/m).slice(1)
  t.equal(outputs.length, steps.length, 'every step ran')

  steps.forEach((step, i) => {
    const expected = step.expected
    const actual = normalize(outputs[i] ?? '').trimEnd()
    const name = `step ${i + 1}: ${step.command.split('\n')[0] ?? ''}`
    if (expected === undefined) return
    if (expected.language === 'json') {
      t.same(canonical(JSON.parse(actual)), canonical(JSON.parse(normalize(expected.body))), name)
      return
    }
    const want = normalize(expected.body).trimEnd()
    if (!want.startsWith('HTTP/')) {
      t.equal(actual.trimEnd(), want, name)
      return
    }
    const [wantHead = '', wantBody = ''] = want.split('\n\n')
    const [gotHead = '', gotBody = ''] = actual.replace(/\r\n/g, '\n').trimEnd().split('\n\n')
    const gotLines = gotHead.split('\n')
    for (const line of wantHead.split('\n')) t.ok(gotLines.includes(line), `${name}: shows "${line}"`)
    t.equal(gotBody, wantBody, `${name}: body`)
  })
})

test('the step parser: an sh block with no output block after it has none', async (t) => {
  const { steps } = stepsOf('```sh\necho a\n```\n\n```sh\necho b\n```\n\n```json\n{}\n```\n')
  t.same(steps, [{ command: 'echo a\n', expected: undefined }, { command: 'echo b\n', expected: { language: 'json', body: '{}\n' } }])
})
