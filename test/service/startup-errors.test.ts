/**
 * startupFailure() turns a start-up failure caused by a setting into the one line server.ts prints (and exits
 * 1), naming the variable to fix; anything else is a bug and gets undefined, so server.ts rethrows it with its
 * stack. config-errors.test.ts sees these lines from the real server in child processes, which c8 does not
 * measure: this runs every path in-process, with the errors the service really meets where they can be had
 * (the store's own StoreConnectError, a port really in use, a host that really does not resolve).
 */
import { once } from 'node:events'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { test } from 'tap'
import { InvalidOptionError, StoreConnectError } from '../../src/common/errors.js'
import { sqliteModuleFailure, startupFailure } from '../../src/service/startup-errors.js'
import { redisConfigLocation } from '../../src/stores/redis-client.js'
import { SqliteNativeModuleError } from '../../src/stores/sqlite-database.js'

/** The error `server.listen(port, host)` emits, or undefined when it listened (then it is closed again). */
async function listenError (port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  const server = createServer()
  server.listen(port, host)
  try {
    await once(server, 'listening')
  } catch (error) {
    return error as NodeJS.ErrnoException
  }
  await new Promise((resolve) => server.close(resolve))
  return undefined
}

test('an invalid setting is said as its own message, lines and all', async (t) => {
  const error = new InvalidOptionError('LOG_LEVEL must be one of fatal, error\nPORT must be an integer (got "x")')
  t.equal(startupFailure(error, {}), 'LOG_LEVEL must be one of fatal, error\nPORT must be an integer (got "x")')
  t.equal(startupFailure({ code: 'ERR_INVALID_OPTION' }, {}), '', 'no message: an empty line, not a crash')
})

test('a store that cannot be reached names the variables that say where it is', async (t) => {
  const commandTimeoutMs = 1000
  const single = new StoreConnectError(redisConfigLocation({ url: 'redis://:pw@cache.internal:6380/2', commandTimeoutMs }), 'connect ECONNREFUSED')
  t.equal(startupFailure(single, {}), 'Cannot connect to the session store at redis://cache.internal:6380/2: connect ECONNREFUSED (check REDIS_URL)')
  const cluster = new StoreConnectError(redisConfigLocation({ url: 'redis://localhost', commandTimeoutMs, clusterNodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }] }), 'no node answered')
  t.equal(startupFailure(cluster, {}), 'Cannot connect to the session store at cluster 10.0.0.1:7000,10.0.0.2:7001: no node answered (check REDIS_CLUSTER_NODES)')
  const sentinel = new StoreConnectError(redisConfigLocation({ url: 'redis://localhost', commandTimeoutMs, sentinels: [{ host: 's1', port: 26379 }], sentinelName: 'mymaster' }), 'nothing answered within 5 s')
  t.equal(startupFailure(sentinel, {}), 'Cannot connect to the session store at sentinel mymaster via s1:26379: nothing answered within 5 s (check REDIS_SENTINELS and REDIS_SENTINEL_NAME)')
  // The topology is read from the location, not from the reason: a reason mentioning a cluster is still REDIS_URL's.
  const wordy = new StoreConnectError(redisConfigLocation({ url: 'redis://cache.internal:6379', commandTimeoutMs }), 'this is not a cluster at all')
  t.match(startupFailure(wordy, {}), / \(check REDIS_URL\)$/)
})

test('a port in use names PORT and HOST, as set or by their defaults', async (t) => {
  const busy: Server = createServer()
  busy.listen(0, '127.0.0.1')
  await once(busy, 'listening')
  t.teardown(() => { busy.close() })
  const port = (busy.address() as AddressInfo).port
  const error = await listenError(port, '127.0.0.1')
  t.equal(error?.code, 'EADDRINUSE', 'a real listen failure')
  t.equal(error?.syscall, 'listen')
  t.equal(startupFailure(error, { HOST: '127.0.0.1', PORT: String(port) }), `PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another PORT`)
  t.equal(startupFailure(error, {}), 'PORT 3000 is already in use on localhost: stop the other process or choose another PORT', 'HOST and PORT unset: their defaults')
  // A node:cluster worker gets the primary's failure to bind on its behalf as a `bind` error (node's
  // ExceptionWithHostPort in lib/internal/cluster/child.js): the same line.
  const inWorker = Object.assign(new Error(`bind EADDRINUSE 127.0.0.1:${port}`), { code: 'EADDRINUSE', errno: -98, syscall: 'bind', address: '127.0.0.1', port })
  t.equal(startupFailure(inWorker, { HOST: '127.0.0.1', PORT: String(port) }), `PORT ${port} is already in use on 127.0.0.1: stop the other process or choose another PORT`, 'as a cluster worker meets it')
})

test('a privileged port names PORT and the ways out', async (t) => {
  const error = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:80'), { code: 'EACCES', syscall: 'listen' })
  t.equal(startupFailure(error, { PORT: '80' }), 'PORT 80 needs more privileges than this process has: choose a PORT of 1024 or more, or put a proxy in front')
})

test('a HOST that is not this machine\'s names HOST, whichever way it fails', async (t) => {
  const line = (host: string): string => `HOST ${JSON.stringify(host)} is not an address of this machine: use localhost, 0.0.0.0, or one of its addresses`
  const unknown = await listenError(0, 'no-such-host.invalid')
  t.equal(unknown?.syscall, 'getaddrinfo', 'a real lookup failure')
  t.ok(unknown?.code === 'ENOTFOUND' || unknown?.code === 'EAI_AGAIN', String(unknown?.code))
  t.equal(startupFailure(unknown, { HOST: 'no-such-host.invalid' }), line('no-such-host.invalid'))
  // 192.0.2.0/24 is TEST-NET-1: never an address of this machine.
  const foreign = await listenError(0, '192.0.2.1')
  t.equal(foreign?.code, 'EADDRNOTAVAIL', 'a real bind failure')
  t.equal(startupFailure(foreign, { HOST: '192.0.2.1' }), line('192.0.2.1'))
  for (const code of ['ENOTFOUND', 'EAI_AGAIN']) {
    t.equal(startupFailure({ code, syscall: 'getaddrinfo' }, { HOST: 'dns.down' }), line('dns.down'), code)
  }
})

test('better-sqlite3 without its native module: one line, the rebuild, and the other store where there is one', async (t) => {
  // sqlite-unbuilt.test.ts meets the real error in the service and the CLIs; this is each wording.
  const error = new SqliteNativeModuleError('better-sqlite3\'s native module is not built', { cause: new Error('Could not locate the bindings file. Tried:\n → a\n → b') })
  const rebuild = 'better-sqlite3\'s native module is not built (installed with --ignore-scripts?): run "npm rebuild better-sqlite3"'
  t.equal(startupFailure(error, {}), `${rebuild}, or set STORE=redis`, 'the service')
  t.equal(sqliteModuleFailure(error, true), `${rebuild}, or set STORE=redis`, 'the users CLI')
  t.equal(sqliteModuleFailure(error, false), rebuild, 'the backup CLI: SQLite or nothing')
  for (const other of [new Error('Could not locate the bindings file'), undefined, null, 'a string']) t.equal(sqliteModuleFailure(other, true), undefined, 'not translated: not this error')
})

test('anything else is not a setting\'s fault: undefined, so server.ts keeps the stack', async (t) => {
  t.equal(startupFailure(new TypeError('cannot read properties of undefined'), {}), undefined)
  t.equal(startupFailure(Object.assign(new Error('listen EINVAL'), { code: 'EINVAL', syscall: 'listen' }), {}), undefined, 'a listen error it has no words for')
  t.equal(startupFailure(Object.assign(new Error('EADDRINUSE'), { code: 'EADDRINUSE', syscall: 'connect' }), {}), undefined, 'a known code from another call: not the listening port')
  t.equal(startupFailure(Object.assign(new Error('open'), { code: 'EACCES', syscall: 'open' }), {}), undefined)
  for (const thrown of [undefined, null, 'a string', 42]) t.equal(startupFailure(thrown, {}), undefined, `thrown ${String(thrown)}`)
})
