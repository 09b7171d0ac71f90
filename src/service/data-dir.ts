/** DATA_DIR: created when missing, and proven writable before anything is put there. */
import { randomBytes } from 'node:crypto'
import { lstatSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidOptionError } from '../common/errors.js'
import { FILE_ERROR_WORDS } from '../common/file-errors.js'

const REASONS: Readonly<Record<string, string>> = {
  ...FILE_ERROR_WORDS,
  EEXIST: 'it is a file, not a directory',
  ENOENT: 'a parent directory cannot be created'
}

function isSymbolicLink (path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/** Why DATA_DIR cannot be used, as one line naming it; rethrows anything that is not a file-system error. */
export function dataDirError (dir: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code
  if (code === undefined) throw error
  const reason = code === 'ENOENT' && isSymbolicLink(dir) ? 'it is a symbolic link to a directory that does not exist: a volume not mounted?' : REASONS[code] ?? code
  return new InvalidOptionError(`DATA_DIR ${JSON.stringify(dir)} cannot be used (${reason}): it must be a directory this process can create files in, or a path where it can create one`)
}

/**
 * Creates DATA_DIR (mode 0700) if missing, and writes and removes a file in it: `access(W_OK)` is not
 * enough, it says yes to root on a read-only mount.
 */
export function prepareDataDir (dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'EEXIST' })
    const probe = join(dir, `.write-check-${randomBytes(6).toString('hex')}`)
    writeFileSync(probe, '', { flag: 'wx', mode: 0o600 })
    unlinkSync(probe)
  } catch (error) {
    throw dataDirError(dir, error)
  }
}
