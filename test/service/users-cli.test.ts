import { spawnSync } from 'node:child_process'
import { Readable } from 'node:stream'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { runUsersCli, UsageError } from '../../src/service/cli/users.js'
import { FAST_HASH, tempDir, TEST_PASSWORD, testEnv } from '../helper.js'

async function run (env: Record<string, string>, args: string[], stdin = ''): Promise<{ code: number, out: string[], log: string[] }> {
  const out: string[] = []
  const log: string[] = []
  const code = await runUsersCli(args, { stdin: Readable.from([stdin]), out: (line) => out.push(line), log: { write: (line) => { log.push(line) } }, env })
  return { code, out, log }
}

test('the users CLI manages the SQLite directory the service uses', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) })
  t.same((await run(env, ['list'])).out, ['no users'])
  const added = await run({ ...env, LOG_LEVEL: 'info' }, ['add', 'alice', '--role', 'admin', '--role', 'ops', '--password-stdin'], `${TEST_PASSWORD}\n`)
  t.equal(added.code, 0)
  t.match(added.log.map((l) => JSON.parse(l)).find((l) => l.audit === 'user.added'), { audit: 'user.added', username: 'alice', roles: ['admin', 'ops'], userId: String })
  t.notMatch(added.log.join(''), TEST_PASSWORD, 'the password is never logged')
  t.match(added.out[0], /^added alice \(id [A-Za-z0-9_-]{22}, roles admin, ops\)$/)
  t.match((await run(env, ['add', 'bob', '--password-stdin'], TEST_PASSWORD)).out[0], /^added bob \(id [A-Za-z0-9_-]{22}\)$/)

  const app = await buildApp({ env, passwordHashCost: FAST_HASH })
  t.ok(await app.users.verifyCredentials('alice', TEST_PASSWORD), 'the trailing newline was not part of the password')
  await app.close()

  t.same((await run(env, ['passwd', 'alice', '--password-stdin'], 'a new passphrase\r\n')).out, ['password of alice changed; all of their sessions have ended'])
  t.same((await run(env, ['roles', 'alice', '--role', 'reader'])).out, ['roles of alice: reader (applied at each session\'s next refresh)'])
  t.same((await run(env, ['roles', 'bob'])).out, ['roles of bob: (none) (applied at each session\'s next refresh)'])
  t.same((await run(env, ['disable', 'bob'])).out, ['disabled bob; all of their sessions have ended'])
  t.same((await run(env, ['enable', 'bob'])).out, ['enabled bob'])
  const list = (await run(env, ['list'])).out
  t.match(list, [/^alice\t[A-Za-z0-9_-]{22}\tenabled\treader$/, /^bob\t[A-Za-z0-9_-]{22}\tenabled\t$/])
  t.match((await run(env, ['--help'])).out[0], /^usage: npm run users/)
})

test('the users CLI refuses bad usage with a message saying what to do', async (t) => {
  const env = testEnv({ STORE: 'memory', DATA_DIR: tempDir(t) })
  const cases: Array<[string[], RegExp]> = [
    [[], /^usage/],
    [['add'], /^usage/],
    [['list', 'extra'], /^usage/],
    [['add', 'alice', 'bob'], /^usage/],
    [['add', 'alice'], /add reads the password from standard input: add --password-stdin/],
    [['passwd', 'alice'], /passwd reads the password from standard input/],
    [['frobnicate', 'x'], /unknown command "frobnicate"/]
  ]
  for (const [args, message] of cases) {
    await t.rejects(run(env, args), message, args.join(' '))
  }
  await t.rejects(run(env, ['add', 'alice']), new UsageError('add reads the password from standard input: add --password-stdin, e.g.\n  printf \'%s\' "$PASSWORD" | npm run users -- add alice --password-stdin'))
  await t.rejects(run(env, ['disable', 'nobody']), { code: 'ERR_USER_NOT_FOUND' })
  await t.rejects(run(env, ['add', 'alice', '--password-stdin'], 'short'), { code: 'ERR_PASSWORD_POLICY' }, 'the password policy applies in the CLI')
  await t.rejects(run(env, ['add', 'alice', '--password-stdin'], 'password123'), { code: 'ERR_PASSWORD_POLICY', message: /most common passwords/ })
})

test('the CLI process reports errors on stderr with exit code 1, and works end to end', async (t) => {
  const env = { ...process.env, ...testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) }) }
  const cli = (args: string[], input = ''): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [...process.execArgv, 'src/service/cli/users-main.ts', ...args], { env, input, encoding: 'utf8', timeout: 60_000 })
  const bad = cli(['add', 'alice'])
  t.equal(bad.status, 1)
  t.match(bad.stderr, /^error: add reads the password from standard input/)
  const good = cli(['add', 'alice', '--password-stdin'], TEST_PASSWORD)
  t.equal(good.status, 0, String(good.stderr))
  t.match(good.stdout, /^added alice \(id [A-Za-z0-9_-]{22}\)\n$/, 'stdout holds the result only; logs go to stderr')
  t.notMatch(String(good.stderr) + String(good.stdout), TEST_PASSWORD, 'the password is never printed or logged')
})

test('users mfa reset: removes the second factor and ends every session of the user', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) })
  await run(env, ['add', 'alice', '--password-stdin'], TEST_PASSWORD)
  const app = await buildApp({ env, passwordHashCost: FAST_HASH })
  t.teardown(async () => await app.close())
  await app.ready()
  const alice = await app.users.get('alice')
  await app.users.secondFactorStore.setSecondFactor(alice.id, { sealedSecret: 'v1.x.y.z.w', confirmed: true, createdAt: 1 })
  await app.users.secondFactorStore.setRecoveryCodes(alice.id, ['h1'])
  const started = await app.sessions.startSession({ id: alice.id, username: 'alice', roles: [] }, { userAgent: null, address: null })
  t.equal(started.status, 'issued')

  const reset = await run({ ...env, LOG_LEVEL: 'info' }, ['mfa', 'reset', 'alice'])
  t.same(reset.out, ['second factor of alice removed (recovery codes included); all of their sessions have ended'])
  t.match(reset.log.map((l) => JSON.parse(l)).find((l) => l.audit === 'cli.mfa_reset'), { userId: alice.id, removed: true })
  t.equal(await app.users.secondFactorStore.getSecondFactor(alice.id), undefined, 'the factor is gone from the file the service uses')
  t.equal(await app.users.secondFactorStore.recoveryCodesLeft(alice.id), 0)
  t.same(await app.sessions.listUserSessions(alice.id), [], 'her sessions ended')
  t.same((await run(env, ['mfa', 'reset', 'alice'])).out, ['alice had no second factor; all of their sessions have ended'])
  await t.rejects(run(env, ['mfa', 'remove', 'alice']), { name: 'UsageError' })
  await t.rejects(run(env, ['mfa', 'reset', 'nobody']), { code: 'ERR_USER_NOT_FOUND' })
})
