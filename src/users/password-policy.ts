/**
 * The password policy of the built-in user directory (OWASP ASVS 5.0, 6.2): at least 8 characters, up to
 * 1024 (well over the 64 ASVS asks to allow), any characters, no composition rules, and refused when it is a
 * common password from breach corpora or contains the username. The same policy for the users CLI, sign-up,
 * the self-service password change and an admin setting a password.
 *
 * The list of common passwords is the `passwords-common` dictionary of @zxcvbn-ts/language-common (MIT, about
 * 49,000 passwords ranked by frequency in public breach corpora; the list zxcvbn-ts, used by Keycloak among
 * others, scores passwords against). It is loaded on the first check, not at start-up.
 */
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password-limits.js'

/** Why a password is refused, or undefined when it is acceptable. */
export type PasswordProblem = 'too-short' | 'too-long' | 'common' | 'contains-username'

/** Shortest username that a password may not contain (shorter ones match by accident). */
const MIN_USERNAME_IN_PASSWORD = 4

let common: Promise<ReadonlySet<string>> | undefined

async function commonPasswords (): Promise<ReadonlySet<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set(dictionary['passwords-common']))
  return await common
}

/** Characters as people count them: code points, so an emoji or a CJK character counts once. */
export function passwordLength (password: string): number {
  return Array.from(password).length
}

/**
 * What is wrong with `password` for the account `username`, or undefined. Comparisons ignore case: the list
 * is lower-case, and "Password1" is as guessable as "password1".
 */
export async function passwordProblem (password: string, username?: string): Promise<PasswordProblem | undefined> {
  // The cap is in UTF-16 units, the bound on hashing work; the minimum in characters.
  if (password.length > MAX_PASSWORD_LENGTH) return 'too-long'
  if (passwordLength(password) < MIN_PASSWORD_LENGTH) return 'too-short'
  const lower = password.toLowerCase()
  if ((await commonPasswords()).has(lower)) return 'common'
  if (username !== undefined && username.length >= MIN_USERNAME_IN_PASSWORD && lower.includes(username.toLowerCase())) return 'contains-username'
  return undefined
}

/** The problem in words, for an error message (never repeats the password). */
export function describePasswordProblem (problem: PasswordProblem): string {
  switch (problem) {
    case 'too-short':
      return `the password must have at least ${MIN_PASSWORD_LENGTH} characters`
    case 'too-long':
      return `the password must have at most ${MAX_PASSWORD_LENGTH} characters`
    case 'common':
      return 'the password is one of the most common passwords (found in breach corpora); choose another, e.g. a few unrelated words'
    case 'contains-username':
      return 'the password must not contain the username'
  }
}
