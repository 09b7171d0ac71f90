/**
 * Password lengths, apart from the hasher so that the wire schemas can use them without loading argon2 (a
 * native module) into apps that only embed the plugin.
 */

/** Longest password accepted, in characters: bounds the work an attacker can ask of the hasher. */
export const MAX_PASSWORD_LENGTH = 1024
export const MIN_PASSWORD_LENGTH = 8
