/**
 * DATA_DIR at start-up (src/service/data-dir.ts): created owner-only when missing, proven writable, and
 * refused with one line naming it and saying why. config-errors.test.ts sees those lines from the real server
 * in child processes, which c8 does not measure; this takes every path in-process, on real directories.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'tap'
import { dataDirError, prepareDataDir } from '../../src/service/data-dir.js'
import { tempDir } from '../helper.js'

const line = (dir: string, reason: string): string =>
  `DATA_DIR ${JSON.stringify(dir)} cannot be used (${reason}): it must be a directory this process can create files in, or a path where it can create one`

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: failed`), { code })

test('each file-system reason is said in words, naming DATA_DIR', async (t) => {
  const reasons: Record<string, string> = {
    ENOTDIR: 'part of the path is a file, not a directory',
    EEXIST: 'it is a file, not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOSPC: 'no space left on the device',
    ENOENT: 'a parent directory cannot be created'
  }
  for (const [code, reason] of Object.entries(reasons)) {
    const error = dataDirError('/srv/data', errno(code))
    t.equal(error.message, line('/srv/data', reason), code)
    t.equal((error as { code?: string }).code, 'ERR_INVALID_OPTION', `${code}: a setting's error, so server.ts prints it without a stack`)
  }
  t.equal(dataDirError('./data', errno('EMFILE')).message, line('./data', 'EMFILE'), 'a code without words: the code itself')
})

test('an error that is not the file system\'s is rethrown as it is', async (t) => {
  const bug = new TypeError('path must be a string')
  t.throws(() => dataDirError('./data', bug), bug)
  let thrown: unknown
  try {
    dataDirError('./data', 'a string')
  } catch (error) {
    thrown = error
  }
  t.equal(thrown, 'a string', 'whatever was thrown, even not an Error')
})

test('a missing DATA_DIR is created owner-only, parents too, and left empty', async (t) => {
  const dir = join(tempDir(t), 'a', 'b', 'data')
  prepareDataDir(dir)
  t.ok(statSync(dir).isDirectory())
  t.equal(statSync(dir).mode & 0o777, 0o700, 'mode 0700: it will hold the secret and password hashes')
  t.same(readdirSync(dir), [], 'the write check leaves no file behind')
})

test('an existing directory is accepted, its files untouched', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'sessions.db'), 'kept')
  prepareDataDir(dir)
  t.same(readdirSync(dir), ['sessions.db'])
})

test('a path that is a file is refused (EEXIST)', async (t) => {
  const file = join(tempDir(t), 'a-file')
  writeFileSync(file, '')
  t.throws(() => { prepareDataDir(file) }, { code: 'ERR_INVALID_OPTION', message: line(file, 'it is a file, not a directory') })
})

test('a path under a file is refused (ENOTDIR)', async (t) => {
  const file = join(tempDir(t), 'a-file')
  writeFileSync(file, '')
  const dir = join(file, 'data')
  t.throws(() => { prepareDataDir(dir) }, { code: 'ERR_INVALID_OPTION', message: line(dir, 'part of the path is a file, not a directory') })
  t.notOk(existsSync(dir))
})

test('a symbolic link to nothing is refused, and left as it is', async (t) => {
  // Say DATA_DIR links to a volume that is not mounted: mkdir fails with ENOENT, it does not create the target.
  const dir = join(tempDir(t), 'data')
  symlinkSync(join(tempDir(t), 'not-mounted', 'data'), dir)
  t.throws(() => { prepareDataDir(dir) }, { code: 'ERR_INVALID_OPTION', message: line(dir, 'it is a symbolic link to a directory that does not exist: a volume not mounted?') })
  t.ok(lstatSync(dir).isSymbolicLink())
  t.notOk(existsSync(dir), 'still pointing at nothing')
})

test('a directory it cannot write in is refused (EACCES), though it exists', async (t) => {
  // Root writes through directory modes, not into sysfs (config-errors.test.ts does the same).
  let dir = '/sys/kernel'
  if (process.getuid?.() !== 0) {
    dir = join(tempDir(t), 'read-only')
    mkdirSync(dir, { mode: 0o500 })
    t.teardown(() => { chmodSync(dir, 0o700) })
  }
  t.throws(() => { prepareDataDir(dir) }, { code: 'ERR_INVALID_OPTION', message: line(dir, 'permission denied') })
})
