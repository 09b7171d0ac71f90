/**
 * The development secret in DATA_DIR/session-secret (src/service/secrets.ts) when that name is a symbolic link,
 * as an operator may make it to keep the secret on another volume: followed when its target is there, and
 * never replaced by a generated secret when it is not. app-config.test.ts covers the generated file;
 * secrets-race.test.ts processes generating it at once.
 */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { resolveSecret } from '../../src/service/secrets.js'
import { tempDir, TEST_SECRET } from '../helper.js'

const source = (dataDir: string) => ({ configured: '', previous: [], production: false, dataDir })

test('session-secret linking to a secret elsewhere: that secret is used', async (t) => {
  const dataDir = tempDir(t)
  const target = join(tempDir(t), 'mounted-secret')
  writeFileSync(target, `${TEST_SECRET}\n`, { mode: 0o600 })
  symlinkSync(target, join(dataDir, 'session-secret'))
  t.same(resolveSecret(source(dataDir)), { secret: TEST_SECRET, previous: [], generatedAt: join(dataDir, 'session-secret') })
})

test('session-secret linking to nothing (its volume not mounted): refused, never replaced by a new secret', async (t) => {
  const dataDir = tempDir(t)
  const file = join(dataDir, 'session-secret')
  const target = join(tempDir(t), 'not-mounted', 'session-secret')
  symlinkSync(target, file)
  // Sessions signed with the secret behind the link would all end if a new one took its place.
  t.throws(() => resolveSecret(source(dataDir)), {
    code: 'ERR_INVALID_OPTION',
    message: `${file} cannot be read: it is a symbolic link to a file that does not exist (a secrets volume not mounted?): mount it, or remove the link to have a new secret generated, which ends every session; or set SESSION_SECRET`
  }, 'the boot stops with one line naming the file and what to do (a setting\'s error: no stack trace)')
  t.ok(lstatSync(file).isSymbolicLink(), 'the link is still there')
  t.equal(readlinkSync(file), target)
  t.same(readdirSync(dataDir), ['session-secret'], 'no generated secret left aside')
})

test('session-secret that cannot be read as a file: refused with one line, nothing generated', async (t) => {
  const dataDir = tempDir(t)
  const file = join(dataDir, 'session-secret')
  mkdirSync(file)
  t.throws(() => resolveSecret(source(dataDir)), { code: 'ERR_INVALID_OPTION', message: `${file} cannot be read: it is a directory, not a file; or set SESSION_SECRET` })
  t.same(readdirSync(dataDir), ['session-secret'], 'nothing generated beside it')
})
