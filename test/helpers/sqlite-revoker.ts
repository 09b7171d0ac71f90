/**
 * Another process on the same SQLite file (test/fixtures/processes/sqlite-revoker.ts) that revokes a token id
 * with its own connection when asked: how the users CLI or another worker writes, for tests that check the
 * revocation reaches this process.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'

export interface SqliteRevoker {
  /** Resolves once the other process has committed the revocation. */
  revoke: (tokenId: string) => Promise<void>
  /** Ends the process after its last revocation. */
  stop: () => Promise<void>
}

export async function startSqliteRevoker (t: Test, path: string): Promise<SqliteRevoker> {
  const other = spawn(process.execPath, [...process.execArgv, 'test/fixtures/processes/sqlite-revoker.ts', path], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(() => { other.kill() })
  const lines = createInterface({ input: other.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<unknown> => (await lines.next()).value
  t.equal(await next(), 'ready', 'the other process has opened the file')
  return {
    async revoke (tokenId) {
      other.stdin.write(`${tokenId}\n`)
      t.equal(await next(), `done ${tokenId}`, 'the other process committed')
    },
    async stop () {
      other.stdin.end()
      await once(other, 'exit')
    }
  }
}
