/**
 * Plain words for the file-system error codes a setting can run into (a data directory, a secret file), so
 * start-up errors say what is wrong instead of an errno. Each caller adds its own wording for the codes whose
 * meaning depends on what it was doing (ENOENT, EEXIST, EISDIR).
 */
export const FILE_ERROR_WORDS: Readonly<Record<string, string>> = Object.freeze({
  ENOTDIR: 'part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  ELOOP: 'a loop of symbolic links'
})
