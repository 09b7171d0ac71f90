/**
 * The TOTP second factor (RFC 6238, as authenticator apps expect it: SHA-1, 6 digits, 30-second steps) with
 * recovery codes. Codes are made and checked by `otpauth`, the QR code drawn by `qrcode`; what is ours:
 *
 * - Secrets at rest are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the session secret, bound
 *   to their user (the user id is additional data), and named by the secret's fingerprint: a previous secret
 *   (SESSION_PREVIOUS_SECRETS) still opens them, and the next successful code re-seals under the current one.
 *   Once a secret leaves the ring, the factors sealed under it cannot be opened: those users need their
 *   recovery codes or a reset (docs/security.md, "Second factor").
 * - Each code is accepted once: its time step is claimed in the store (atomic, shared by every instance), so
 *   a code seen over a shoulder or replayed within its window is refused. One step of drift either way.
 * - Recovery codes: ten, 120 random bits each, shown once, stored as SHA-256 hashes (enough for that
 *   entropy, ASVS 6.5.2), each removed atomically when used.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'
import { Secret, TOTP } from 'otpauth'
import QRCode from 'qrcode'
import { seconds, type Clock } from '../common/clock.js'
import { secretFingerprint } from '../tokens/keys.js'
import type { SecondFactorStore } from './user-store.js'

export const TOTP_PERIOD = 30
export const TOTP_DIGITS = 6
/** Steps of clock drift accepted either way. */
export const TOTP_WINDOW = 1
export const RECOVERY_CODE_COUNT = 10
const RECOVERY_CODE = /^[a-z2-7]{24}$/
const SEAL_INFO = 'stateless-session/v1 totp secret'

export interface Enrolment {
  /** Base32, for typing into an app by hand. */
  secret: string
  /** `otpauth://totp/...`, what the QR code holds. */
  uri: string
  qrSvg: string
}

export type SecondFactorProof = { code: string } | { recoveryCode: string }

/** `replayed`: a right code already used (its step claimed). `none`: the user has no confirmed factor. */
export type ProofOutcome = 'ok' | 'wrong' | 'replayed' | 'none'

export interface TotpOptions {
  store: SecondFactorStore
  secret: Buffer
  previousSecrets: readonly Buffer[]
  clock: Clock
  /** Shown by the authenticator app above the account name. */
  issuer: string
}

function sealingKey (secret: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), SEAL_INFO, 32))
}

/** A recovery code as people type it: case, spaces and dashes do not matter. */
export function normaliseRecoveryCode (code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '')
}

function hashRecoveryCode (normalised: string): string {
  return createHash('sha256').update(normalised).digest('base64url')
}

function newRecoveryCode (): string {
  // 15 bytes = 120 bits = 24 base32 characters, shown in groups of four.
  const text = new Secret({ buffer: randomBytes(15).buffer }).base32.toLowerCase()
  return text.match(/.{4}/g)?.join('-') ?? text
}

export class TotpService {
  readonly #o: TotpOptions
  readonly #keys: Map<string, Buffer>
  readonly #current: string

  constructor (options: TotpOptions) {
    this.#o = options
    this.#current = secretFingerprint(options.secret)
    this.#keys = new Map([options.secret, ...options.previousSecrets].map((s) => [secretFingerprint(s), sealingKey(s)]))
  }

  /** True when the user has a confirmed factor: logins and re-authentications then need a code. */
  async isEnrolled (userId: string): Promise<boolean> {
    return (await this.#o.store.getSecondFactor(userId))?.confirmed === true
  }

  async status (userId: string): Promise<{ totp: boolean, recoveryCodesLeft: number }> {
    const enrolled = await this.isEnrolled(userId)
    return { totp: enrolled, recoveryCodesLeft: enrolled ? await this.#o.store.recoveryCodesLeft(userId) : 0 }
  }

  /** A new secret waiting for confirmation (replacing an unconfirmed one); 'exists' when one is confirmed. */
  async begin (userId: string, username: string): Promise<Enrolment | 'exists' | 'no-user'> {
    const store = this.#o.store
    if (await this.isEnrolled(userId)) return 'exists'
    const secret = new Secret({ size: 20 })
    const totp = this.#totp(secret, username)
    if (!await store.setSecondFactor(userId, { sealedSecret: this.#seal(userId, secret.base32), confirmed: false, createdAt: seconds(this.#o.clock) })) return 'no-user'
    const uri = totp.toString()
    return { secret: secret.base32, uri, qrSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }) }
  }

  /** Confirms a pending enrolment with a current code: the factor counts from now; answers the recovery codes. */
  async confirm (userId: string, username: string, code: string): Promise<string[] | 'wrong' | 'replayed' | 'none'> {
    const factor = await this.#o.store.getSecondFactor(userId)
    if (factor === undefined || factor.confirmed) return 'none'
    const secret = this.#open(userId, factor.sealedSecret)
    if (secret === undefined) return 'none'
    const outcome = await this.#checkCode(userId, username, secret, code)
    if (outcome !== 'ok') return outcome
    const codes = await this.regenerate(userId)
    await this.#o.store.setSecondFactor(userId, { ...factor, sealedSecret: this.#seal(userId, secret), confirmed: true })
    return codes
  }

  /** Removes the factor and its recovery codes; false when there was none (confirmed or not). */
  async remove (userId: string): Promise<boolean> {
    return await this.#o.store.removeSecondFactor(userId)
  }

  /** Ten new recovery codes, replacing the old ones. Shown once: only their hashes are kept. */
  async regenerate (userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode)
    await this.#o.store.setRecoveryCodes(userId, codes.map((c) => hashRecoveryCode(normaliseRecoveryCode(c))))
    return codes
  }

  /** Checks a code from the app, or a recovery code (used up if right). */
  async verify (userId: string, username: string, proof: SecondFactorProof): Promise<ProofOutcome> {
    const factor = await this.#o.store.getSecondFactor(userId)
    if (factor?.confirmed !== true) return 'none'
    if ('recoveryCode' in proof) {
      const code = normaliseRecoveryCode(proof.recoveryCode)
      if (!RECOVERY_CODE.test(code)) return 'wrong'
      return await this.#o.store.useRecoveryCode(userId, hashRecoveryCode(code)) ? 'ok' : 'wrong'
    }
    const secret = this.#open(userId, factor.sealedSecret)
    if (secret === undefined) return 'wrong'
    const outcome = await this.#checkCode(userId, username, secret, proof.code)
    // Sealed under a previous session secret: sealed again under the current one now that it was used.
    if (outcome === 'ok' && !factor.sealedSecret.startsWith(`v1.${this.#current}.`)) {
      await this.#o.store.setSecondFactor(userId, { ...factor, sealedSecret: this.#seal(userId, secret) })
    }
    return outcome
  }

  /** For re-authentication: true for a right, unused code of the app. */
  async verifyCode (userId: string, code: string): Promise<boolean> {
    return await this.verify(userId, '', { code }) === 'ok'
  }

  #totp (secret: Secret | string, username: string): TOTP {
    return new TOTP({
      issuer: this.#o.issuer,
      label: username,
      algorithm: 'SHA1',
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD,
      secret: typeof secret === 'string' ? Secret.fromBase32(secret) : secret
    })
  }

  async #checkCode (userId: string, username: string, secret: string, code: string): Promise<'ok' | 'wrong' | 'replayed'> {
    if (!/^[0-9]{6}$/.test(code)) return 'wrong'
    const nowMs = this.#o.clock()
    const delta = this.#totp(secret, username).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW })
    if (delta === null) return 'wrong'
    const step = Math.floor(nowMs / 1000 / TOTP_PERIOD) + delta
    // Claimed until no window can accept this step's code any more.
    const claimed = await this.#o.store.claimOnce(`totp:${userId}:${step}`, (step + TOTP_WINDOW + 2) * TOTP_PERIOD, seconds(this.#o.clock))
    return claimed ? 'ok' : 'replayed'
  }

  #seal (userId: string, base32: string): string {
    const iv = randomBytes(12)
    const header = `v1.${this.#current}`
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(this.#current) as Buffer, iv, { authTagLength: 16 })
    cipher.setAAD(Buffer.from(`${header}.${userId}`))
    const sealed = Buffer.concat([cipher.update(base32, 'utf8'), cipher.final()])
    return `${header}.${iv.toString('base64url')}.${sealed.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`
  }

  /** The base32 secret, or undefined when it was sealed under a secret no longer configured (or tampered with). */
  #open (userId: string, sealed: string): string | undefined {
    const [version, fingerprint = '', iv = '', text = '', tag = ''] = sealed.split('.')
    const key = this.#keys.get(fingerprint)
    if (version !== 'v1' || key === undefined) return undefined
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: 16 })
      decipher.setAAD(Buffer.from(`v1.${fingerprint}.${userId}`))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([decipher.update(Buffer.from(text, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}
