/** What an authenticator app does: the code of a base32 secret at a given time (otpauth, as the service uses). */
import { Secret, TOTP } from 'otpauth'

export function appCode (secret: string, ms: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: ms })
}
