/**
 * loadConfig() (src/service/config.ts) in-process: defaults, one line per wrong variable (the value quoted,
 * cut when long, never repeated for a secret), values from `.env` and what wins over them, and a `.env` that
 * cannot be read. config-errors.test.ts sees the same lines from the built server in child processes, which
 * c8 does not measure.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { loadConfig } from '../../src/service/config.js'
import { tempDir } from '../helper.js'

/** Runs `fn` with a fresh temporary directory as the working directory (where `.env` is read from). */
function inDirectory<T> (t: Test, fn: (dir: string) => T): T {
  const dir = tempDir(t)
  const before = process.cwd()
  process.chdir(dir)
  try {
    return fn(dir)
  } finally {
    process.chdir(before)
  }
}

/** The InvalidOptionError's lines, or fails the test when loadConfig does not throw one. */
function refusal (t: Test, fn: () => unknown): string[] {
  try {
    fn()
  } catch (error) {
    t.equal((error as { code?: string }).code, 'ERR_INVALID_OPTION', String(error))
    return (error as Error).message.split('\n')
  }
  t.fail('loadConfig accepted it')
  return []
}

test('nothing set: the defaults, and process.env is not read', async (t) => {
  const saved = process.env['PORT']
  process.env['PORT'] = 'not a port'
  t.teardown(() => {
    if (saved === undefined) delete process.env['PORT']
    else process.env['PORT'] = saved
  })
  const config = loadConfig()
  t.equal(config.PORT, 3000, 'PORT from the schema\'s default, not from process.env')
  t.equal(config.NODE_ENV, 'development')
  t.equal(config.STORE, 'sqlite')
  t.equal(config.HOST, 'localhost')
  t.same(config.TRUSTED_ORIGINS, [], 'an empty list')
  t.same(loadConfig({ env: { TRUSTED_ORIGINS: 'https://a.example,https://b.example' } }).TRUSTED_ORIGINS, ['https://a.example', 'https://b.example'], 'a list is split on commas')
})

test('one line per wrong variable, saying what it must be and what it got', async (t) => {
  const lines = refusal(t, () => loadConfig({ env: { NODE_ENV: 'staging', PORT: '70000', WORKERS: 'many', STORE: 'mongo' } }))
  t.same(lines, [
    'NODE_ENV must be one of "development", "production", "test" (got "staging")',
    'PORT must be an integer from 0 to 65535 (got "70000")',
    'WORKERS must be a string matching ^(auto|[1-9][0-9]{0,2})$ (got "many")',
    'STORE must be one of "sqlite", "memory", "redis" (got "mongo")'
  ], 'one line for each, though a union reports several validator errors for one value')
})

test('a long value is cut at 60 characters; a secret\'s value is never repeated', async (t) => {
  const long = 'x'.repeat(100)
  const [port] = refusal(t, () => loadConfig({ env: { PORT: long } }))
  t.equal(port, `PORT must be an integer from 0 to 65535 (got "${'x'.repeat(60)}…")`)
  const [redis] = refusal(t, () => loadConfig({ env: { REDIS_URL: 'http://user:hunter2@cache.internal:6379' } }))
  t.equal(redis, 'REDIS_URL must be a string matching ^rediss?://', 'what it must be, not the URL and its password')
  const [level] = refusal(t, () => loadConfig({ env: { LOG_LEVEL: 'loud' } }))
  t.match(level, /^LOG_LEVEL must be one of .* \(got "loud"\)$/)
})

test('.env: read only when asked, from the working directory; the environment wins over it', async (t) => {
  inDirectory(t, (dir) => {
    writeFileSync(join(dir, '.env'), 'PORT=8081\nSTORE=memory\n')
    t.equal(loadConfig({ env: {} }).PORT, 3000, 'not read without dotenv')
    const config = loadConfig({ env: { STORE: 'redis' }, dotenv: true })
    t.equal(config.PORT, 8081, 'from .env')
    t.equal(config.STORE, 'redis', 'the environment wins')
  })
})

test('a wrong value from .env is named as coming from there', async (t) => {
  inDirectory(t, (dir) => {
    writeFileSync(join(dir, '.env'), 'PORT=eighty\n')
    t.same(refusal(t, () => loadConfig({ env: {}, dotenv: true })), ['PORT must be an integer from 0 to 65535 (set in .env)'])
  })
})

test('a .env that cannot be read is not a wrong setting: its error comes through as it is', async (t) => {
  inDirectory(t, (dir) => {
    mkdirSync(join(dir, '.env'))
    t.throws(() => loadConfig({ env: {}, dotenv: true }), { code: 'EISDIR' })
    t.equal(loadConfig({ env: {}, dotenv: false }).PORT, 3000, 'not touched without dotenv')
  })
})
