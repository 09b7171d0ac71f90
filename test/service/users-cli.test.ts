import { spawn, spawnSync } from 'node:child_process'
import { PassThrough, Readable } from 'node:stream'
import { test } from 'tap'
import { buildApp } from '../../src/service/app.js'
import { promptHidden, PromptAbortedError } from '../../src/service/cli/prompt.js'
import { runUsersCli, UsageError } from '../../src/service/cli/users.js'
import { buildTestApp, FAST_HASH, loggedIn, tempDir, TEST_PASSWORD, testEnv } from '../helper.js'
import { waitFor } from '../helpers/wait-for.js'

async function run (env: Record<string, string>, args: string[], stdin = '', promptPassword?: (question: string) => Promise<string>): Promise<{ code: number, out: string[], log: string[] }> {
  const out: string[] = []
  const log: string[] = []
  const code = await runUsersCli(args, { stdin: Readable.from([stdin]), out: (line) => out.push(line), log: { write: (line) => { log.push(line) } }, env, promptPassword, passwordHashCost: FAST_HASH })
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
    [['add', 'alice'], /^add needs the password: run it on a terminal to be prompted, or pipe it in with --password-stdin/],
    [['passwd', 'alice'], /^passwd needs the password/],
    [['frobnicate', 'x'], /^unknown command "frobnicate"\nusage/],
    [['bogus'], /^unknown command "bogus"\nusage/],
    [['bogus', '--password-stdin'], /^unknown command "bogus"\nusage/],
    [['mfa', 'remove', 'alice'], /^unknown command "mfa remove"\nusage/],
    [['add', 'alice', '--password', 'hunter2hunter2'], /^passwords are never taken as arguments \(other users can see them in `ps`\)/],
    [['add', 'alice', '--password=hunter2hunter2'], /^passwords are never taken as arguments/],
    [['passwd', 'alice', '-p', 'x'], /^unknown option -p\nusage/],
    [['list', '--all'], /^unknown option --all\nusage/],
    [['add', 'alice', '--role'], /^--role needs a value/],
    [['list', '--password-stdin'], /^--password-stdin goes with add and passwd/],
    [['delete'], /^usage/],
    [['delete', 'alice', 'bob'], /^usage/]
  ]
  for (const [args, message] of cases) {
    await t.rejects(run(env, args), message, args.join(' '))
  }
  await t.rejects(run(env, ['add', 'alice']), new UsageError('add needs the password: run it on a terminal to be prompted, or pipe it in with --password-stdin, e.g.\n  printf \'%s\' "$PASSWORD" | npm run users -- add alice --password-stdin'))
  await t.rejects(run(env, ['disable', 'nobody']), { code: 'ERR_USER_NOT_FOUND' })
  await t.rejects(run(env, ['add', 'alice', '--password-stdin'], 'short'), { code: 'ERR_PASSWORD_POLICY' }, 'the password policy applies in the CLI')
  await t.rejects(run(env, ['add', 'alice', '--password-stdin'], 'password123'), { code: 'ERR_PASSWORD_POLICY', message: /most common passwords/ })
})

test('the CLI process reports errors on stderr, exit code 2 for a command refused as given and 1 for one that fails, and works end to end', async (t) => {
  const env = { ...process.env, ...testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) }) }
  const cli = (args: string[], input = ''): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [...process.execArgv, 'src/service/cli/users-main.ts', ...args], { env, input, encoding: 'utf8', timeout: 60_000 })
  const bad = cli(['add', 'alice'])
  t.equal(bad.status, 2)
  t.match(bad.stderr, /^error: add needs the password/)
  const flag = cli(['add', 'alice', '--password', 'hunter2hunter2'])
  t.equal(flag.status, 2)
  t.equal(flag.stderr, 'error: passwords are never taken as arguments (other users can see them in `ps`): run the command on a terminal to be prompted, or pipe the password in with --password-stdin\n', 'one line, not Node\'s argument-parser text')
  const unknown = cli(['bogus'])
  t.equal(unknown.status, 2, 'as the package\'s executable exits for an unknown command')
  t.match(unknown.stderr, /^error: unknown command "bogus"\nusage: npm run users -- <command>\n/, 'the command named, then the usage')
  const failed = cli(['disable', 'nobody'])
  t.equal(failed.status, 1, 'a command that fails')
  t.match(failed.stderr, /^error: /)
  const good = cli(['add', 'alice', '--password-stdin'], TEST_PASSWORD)
  t.equal(good.status, 0, String(good.stderr))
  t.match(good.stdout, /^added alice \(id [A-Za-z0-9_-]{22}\)\n$/, 'stdout holds the result only; logs go to stderr')
  t.notMatch(String(good.stderr) + String(good.stdout), TEST_PASSWORD, 'the password is never printed or logged')
})

test('delete: the user is gone and their sessions end at once, on the service that shares the store', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) })
  const service = await buildTestApp(t, { env })
  t.match((await run(env, ['add', 'bob', '--password-stdin'], TEST_PASSWORD)).out[0], /^added bob/)
  const bob = await loggedIn(t, service, 'bob')
  const deleted = await run({ ...env, LOG_LEVEL: 'info' }, ['delete', 'bob'])
  t.same(deleted.out, ['deleted bob; all of their sessions have ended'])
  t.match(deleted.log.map((l) => JSON.parse(l)).find((l) => l.audit === 'user.deleted'), { username: 'bob', userId: String })
  await waitFor('the service to refuse bob\'s session', async () => (await bob.request('GET', '/auth/session')).statusCode, (s) => s === 401)
  t.equal((await bob.request('POST', '/auth/refresh')).statusCode, 401, 'the refresh token ended too')
  t.same((await run(env, ['list'])).out, ['no users'])
  await t.rejects(run(env, ['delete', 'bob']), { code: 'ERR_USER_NOT_FOUND' })
})

test('on a terminal the password is asked twice at a prompt; a mismatch changes nothing', async (t) => {
  const env = testEnv({ STORE: 'sqlite', DATA_DIR: tempDir(t) })
  const asked: string[] = []
  const answers = (...typed: string[]) => async (question: string): Promise<string> => {
    asked.push(question)
    return typed.shift() ?? ''
  }
  t.match((await run(env, ['add', 'carol'], '', answers(TEST_PASSWORD, TEST_PASSWORD))).out[0], /^added carol/)
  t.same(asked, ['New password for carol: ', 'Again: '])
  await t.rejects(run(env, ['passwd', 'carol'], '', answers('a new passphrase', 'a new passfrase')), new UsageError('the two passwords differ; nothing changed'))
  t.same((await run(env, ['passwd', 'carol', '--password-stdin'], 'a new passphrase', answers())).out, ['password of carol changed; all of their sessions have ended'], '--password-stdin still reads standard input on a terminal')
})

test('promptHidden: raw mode while typing, backspace, Ctrl-C', async (t) => {
  const typed = async (keys: string): Promise<{ value: string | Error, written: string, modes: boolean[] }> => {
    const input = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode (mode: boolean) { this.modes.push(mode) } })
    let written = ''
    const answer = promptHidden('Password: ', input, { write: (text: string) => { written += text } })
    input.write(keys)
    const value = await answer.catch((error: Error) => error)
    return { value, written, modes: input.modes }
  }
  t.same(await typed('hunter22\r'), { value: 'hunter22', written: 'Password: \n', modes: [true, false] }, 'nothing echoed; raw mode off again')
  t.equal((await typed('hunter2x\u007f2\n')).value, 'hunter22', 'backspace')
  const cancelled = await typed('hun\u0003')
  t.type(cancelled.value, PromptAbortedError)
  t.same(cancelled.modes, [true, false])
})

test('promptHidden: input that ends, or Ctrl-D, before Enter gives no password', async (t) => {
  const input = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode (mode: boolean) { this.modes.push(mode) } })
  let written = ''
  const answer = promptHidden('Password: ', input, { write: (text: string) => { written += text } })
  input.end('half a pass')
  await t.rejects(answer, new PromptAbortedError('no password given; nothing changed'), 'the end of input is not an empty password')
  t.same(input.modes, [true, false], 'raw mode off again')
  t.equal(written, 'Password: \n')
  t.equal(input.listenerCount('data') + input.listenerCount('end'), 0, 'its listeners removed')

  // Input without raw mode (not a terminal): the same reading, and Ctrl-D cancels.
  const plain = new PassThrough()
  const cancelled = promptHidden('Password: ', plain, { write: () => {} })
  plain.write('secret\u0004')
  await t.rejects(cancelled, new PromptAbortedError('cancelled; nothing changed'))
})

test('the real CLI on a terminal: prompts, echoes nothing, prints no JSON log lines', { skip: spawnSync('script', ['--version']).status === 0 ? false : 'no `script` to give it a terminal' }, async (t) => {
  const dir = tempDir(t)
  const child = spawn('script', ['-qec', `${process.execPath} ${process.execArgv.join(' ')} src/service/cli/users-main.ts add dora`, '/dev/null'], {
    env: { ...process.env, ...testEnv({ STORE: 'sqlite', DATA_DIR: dir, LOG_LEVEL: 'info' }) },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let screen = ''
  child.stdout.on('data', (chunk: Buffer) => { screen += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  await waitFor('the first prompt', async () => screen, (s) => s.includes('New password for dora: '), 60_000)
  child.stdin.write('a long passphrase\r')
  await waitFor('the second prompt', async () => screen, (s) => s.includes('Again: '), 60_000)
  child.stdin.write('a long passphrase\r')
  t.equal(await exited, 0, screen)
  t.match(screen, /New password for dora: \r?\nAgain: \r?\nadded dora \(id [A-Za-z0-9_-]{22}\)/)
  t.notMatch(screen, 'a long passphrase', 'the password is not echoed')
  t.notMatch(screen, '{"level"', 'no JSON log lines on a terminal')
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
