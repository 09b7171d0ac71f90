/**
 * Online backup of the SQLite data while the service runs under load, and a restore into a fresh data
 * directory: revoked tokens stay revoked, live sessions stay live, users are there.
 */
import { spawnSync } from 'node:child_process'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'tap'
import { runBackupCli } from '../../src/service/cli/backup.js'
import { addUser, buildTestApp, client, loggedIn, tempDir, TEST_PASSWORD, testEnv, type Client } from '../helper.js'

const LIMITS = { RATE_LIMIT_REFRESH_IP_MAX: '1000000', RATE_LIMIT_LOGIN_IP_MAX: '1000000', RATE_LIMIT_LOGIN_ACCOUNT_MAX: '1000000' }

async function backup (args: string[], env: Record<string, string>): Promise<string[]> {
  const out: string[] = []
  await runBackupCli(args, { out: (line) => out.push(line), env })
  return out
}

test('a backup taken under load restores into a fresh data directory: revoked stays revoked, live stays live', async (t) => {
  const dataDir = tempDir(t)
  const backups = tempDir(t)
  const app = await buildTestApp(t, { env: { STORE: 'sqlite', DATA_DIR: dataDir, ...LIMITS } })
  for (const name of ['kept', 'gone', 'busy-0', 'busy-1', 'leaver']) await addUser(app, name)
  const kept = await loggedIn(t, app, 'kept')
  const gone = await loggedIn(t, app, 'gone')
  const goneJar = gone.jar.clone()
  t.equal((await gone.request('POST', '/auth/logout')).statusCode, 204, 'a session logged out before the backup')

  // Load while the backups run: refreshes and logins/logouts of other users write to the database.
  const load = { running: true, writes: 0, failures: [] as number[] }
  const busy: Client[] = [await loggedIn(t, app, 'busy-0'), await loggedIn(t, app, 'busy-1')]
  const loops = [
    ...busy.map(async (c) => {
      while (load.running) {
        const status = (await c.request('POST', '/auth/refresh')).statusCode
        if (status === 200) load.writes++
        else load.failures.push(status)
        await sleep(1)
      }
    }),
    (async () => {
      while (load.running) {
        const c = client(app)
        const statuses = [(await c.request('POST', '/auth/login', { username: 'leaver', password: TEST_PASSWORD })).statusCode]
        statuses.push((await c.request('POST', '/auth/logout')).statusCode)
        if (statuses[0] === 200 && statuses[1] === 204) load.writes += 2
        else load.failures.push(...statuses)
      }
    })()
  ]
  const env = { STORE: 'sqlite', DATA_DIR: dataDir }
  await sleep(200)
  const files: string[] = []
  for (let i = 0; i < 5; i++) {
    const writesBefore = load.writes
    const file = join(backups, `sessions-${i}.db`)
    const [line] = await backup(['create', file], env)
    t.match(line, new RegExp(`^backed up .*sessions\\.db to ${file}: 5 users, \\d+ live sessions?, \\d+ revocations? in force \\(schema \\d+\\)$`))
    t.equal(statSync(file).mode & 0o777, 0o600, 'owner-only: it holds password hashes')
    files.push(file)
    await sleep(100)
    t.ok(load.writes > writesBefore, `the service kept writing around backup ${i}`)
  }
  load.running = false
  await Promise.all(loops)
  t.same(load.failures, [], 'the load never failed while backups ran')

  const restoredDir = tempDir(t)
  const file = files[2] as string
  const [restored] = await backup(['restore', file], { STORE: 'sqlite', DATA_DIR: restoredDir })
  t.match(restored, /^restored .* 5 users, \d+ live sessions?, \d+ revocations? in force \(schema \d+\); start the service with the same SESSION_SECRET$/)
  await t.rejects(backup(['restore', file], { STORE: 'sqlite', DATA_DIR: restoredDir }), /exists: stop the service and move the current database .* aside before restoring/, 'never over a database')

  const after = await buildTestApp(t, { env: { STORE: 'sqlite', DATA_DIR: restoredDir, ...LIMITS } })
  const status = async (c: Client, method: string, url: string): Promise<number> => (await client(after, c.jar).request(method, url)).statusCode
  t.equal(await status(kept, 'GET', '/auth/session'), 200, 'a live session\'s access token is accepted')
  t.equal(await status(kept, 'POST', '/auth/refresh'), 200, 'and its refresh token rotates: the session lives on')
  t.equal(await status(kept, 'GET', '/auth/session'), 200, 'with its new pair')
  t.equal(await status({ jar: goneJar } as unknown as Client, 'GET', '/auth/session'), 401, 'the logged-out access token stays refused')
  t.equal(await status({ jar: goneJar.clone() } as unknown as Client, 'POST', '/auth/refresh'), 401, 'and its refresh token too')
  t.equal((await client(after).request('POST', '/auth/login', { username: 'busy-0', password: TEST_PASSWORD })).statusCode, 200, 'users were restored')
})

test('the backup CLI refuses what would lose or damage data, with a message saying what to do', async (t) => {
  const dataDir = tempDir(t)
  const app = await buildTestApp(t, { env: { STORE: 'sqlite', DATA_DIR: dataDir } })
  await addUser(app, 'alice')
  const dir = tempDir(t)
  const env = { STORE: 'sqlite', DATA_DIR: dataDir }
  const file = join(dir, 'b.db')
  await backup(['create', file], env)
  await t.rejects(backup(['create', file], env), /exists already: choose a new file name/)
  await t.rejects(backup(['create', join(dir, 'c.db')], { STORE: 'sqlite', DATA_DIR: tempDir(t) }), /no database at .*: is DATA_DIR right\?/)
  await t.rejects(backup(['create', join(dir, 'd.db')], { STORE: 'redis', DATA_DIR: dataDir }), /STORE=redis: this command backs up the SQLite store/)
  const garbage = join(dir, 'garbage.db')
  writeFileSync(garbage, 'not a database at all, just text that is long enough to look like a header')
  await t.rejects(backup(['verify', garbage], env), /is (not an SQLite database|damaged|not a session database)/)
  await t.rejects(backup(['restore', garbage], { STORE: 'sqlite', DATA_DIR: tempDir(t) }), /is (not an SQLite database|damaged|not a session database)/)
  await t.rejects(backup(['verify', join(dir, 'missing.db')], env), /does not exist/)
  for (const [args, message] of [
    [[], /^usage: npm run backup/],
    [['create'], /^create needs a file\nusage: npm run backup/],
    [['frob', 'x'], /^unknown command "frob"\nusage: npm run backup/],
    [['create', 'a', 'b'], /^create takes one file, got also: b\nusage: npm run backup/],
    [['verify', '--force', 'x'], /^unknown option --force\nusage: npm run backup/],
    [['verify', '--help=yes'], /^Option '--help' does not take an argument\nusage: npm run backup/]
  ] as Array<[string[], RegExp]>) await t.rejects(backup(args, env), { name: 'BackupUsageError', message }, args.join(' '))
  t.match((await backup(['verify', file], env))[0], /^.*b\.db is a whole backup: 1 user, 0 live sessions, 0 revocations in force/, 'one user: the singular')

  const cli = (args: string[], overrides: Record<string, string> = {}): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [...process.execArgv, 'src/service/cli/backup-main.ts', ...args], { env: { ...process.env, ...testEnv({ ...env, ...overrides }) }, encoding: 'utf8', timeout: 60_000 })
  const good = cli(['verify', file])
  t.equal(good.status, 0, String(good.stderr))
  t.match(good.stdout, /b\.db is a whole backup: 1 user, /)
  const bad = cli(['restore', file])
  t.equal(bad.status, 1, 'a command that fails: exit 1')
  t.match(bad.stderr, /^error: .*sessions\.db exists: stop the service/)
  const unknown = cli(['bogus', file])
  t.equal(unknown.status, 2, 'a command refused as given: exit 2, as the package\'s executable')
  t.match(unknown.stderr, /^error: unknown command "bogus"\nusage: npm run backup -- <command> <file>\n/)
  const elsewhere = cli(['create', join(dir, 'e.db')], { STORE: 'redis' })
  t.equal(elsewhere.status, 1, 'STORE=redis is the environment\'s doing, as a wrong setting: exit 1')
  t.equal(String(elsewhere.stderr).split('\n').length, 2, 'one line')
})

test('backup --help: the usage on stdout, exit 0, nothing opened', async (t) => {
  const out: string[] = []
  t.equal(await runBackupCli(['--help'], { out: (line) => out.push(line), env: { DATA_DIR: join(tempDir(t), 'missing') } }), 0)
  t.equal(out.length, 1)
  t.match(out[0], /^usage: .*<command> <file>\n {2}create <file> .*\n {2}verify <file> .*\n {2}restore <file> /)
})

test('backup without STORE or DATA_DIR: the SQLite database in ./data, as npm start uses', async (t) => {
  const dir = tempDir(t)
  const before = process.cwd()
  process.chdir(dir)
  t.teardown(() => { process.chdir(before) })
  await t.rejects(backup(['create', 'b.db'], {}), { message: `no database at ${join(dir, 'data', 'sessions.db')}: is DATA_DIR right?` })
})

test('what counts as a live session is decided at the time given (now), or else at the real time', async (t) => {
  const dataDir = tempDir(t)
  const app = await buildTestApp(t, { env: { STORE: 'sqlite', DATA_DIR: dataDir } })
  await addUser(app, 'alice')
  await loggedIn(t, app, 'alice')
  const file = join(tempDir(t), 'b.db')
  const [created] = await backup(['create', file], { STORE: 'sqlite', DATA_DIR: dataDir })
  t.match(created, ': 1 user, 1 live session, 0 revocations in force', 'now: the real time (and the singular for one)')
  const at = async (now: number): Promise<string[]> => {
    const out: string[] = []
    await runBackupCli(['verify', file], { out: (line) => out.push(line), env: {}, now: () => now })
    return out
  }
  const [today] = await at(Math.floor(Date.now() / 1000))
  t.match(today, 'is a whole backup: 1 user, 1 live session,')
  const [later] = await at(Math.floor(Date.now() / 1000) + 10 * 365 * 86_400)
  t.match(later, 'is a whole backup: 1 user, 0 live sessions', 'ten years on, the session has expired')
})
