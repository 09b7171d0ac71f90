/**
 * The floor: a bare Fastify route doing only the work our token format cannot avoid, written as tightly as
 * we could. It reads the same access cookie as this project's cold route (the same tokens, minted under the
 * same secret), finds its five segments by position, decrypts the JWE with one AES-256-GCM decipher, checks
 * the inner JWS with one HMAC-SHA256 and a constant-time compare, and `JSON.parse`s the claims to answer
 * `sub` (bench/floor-check.ts). No format checks beyond the layout, no claims rules, no denylist, no cache,
 * no key ring (one key per `kid`, derived on first sight). Whatever this route costs, any server of our
 * format pays; the gap between it and "this project, cold" is ours.
 */
import Fastify from 'fastify'
import { createSecretKey, type KeyObject } from 'node:crypto'
import { deriveEncryptionKey, deriveSigningKey, KEY_EPOCH_SECONDS, secretFingerprint } from '../../src/tokens/keys.js'
import { openFloorToken } from '../floor-check.js'
import { announce, benchSecret } from './serve.js'

const secret = Buffer.from(benchSecret())
const fingerprint = secretFingerprint(secret)
const signingKey = createSecretKey(deriveSigningKey(secret, 'access'))
/** Encryption keys by kid (one per hour of issue): derived on first sight, like any server would cache them. */
const keys = new Map<string, KeyObject>()
function keyFor (kid: string): KeyObject | undefined {
  let key = keys.get(kid)
  if (key === undefined && kid.startsWith(`${fingerprint}.`)) {
    const epoch = Number(kid.slice(fingerprint.length + 1))
    if (!Number.isSafeInteger(epoch) || Math.abs(epoch - Date.now() / 1000 / KEY_EPOCH_SECONDS) > 48) return undefined
    key = createSecretKey(deriveEncryptionKey(secret, 'access', epoch))
    keys.set(kid, key)
  }
  return key
}
/** Header segments seen before: their `kid` and AAD bytes, so a header is parsed once, not per request. */
const headers = new Map<string, { kid: string, aad: Buffer }>()
const NAME = '__Host-session='

function check (cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined
  const at = cookieHeader.indexOf(NAME)
  if (at === -1) return undefined
  const end = cookieHeader.indexOf(';', at)
  const token = cookieHeader.slice(at + NAME.length, end === -1 ? undefined : end)
  const headerSegment = token.slice(0, token.indexOf('.'))
  let header = headers.get(headerSegment)
  if (header === undefined) {
    const kid = (JSON.parse(Buffer.from(headerSegment, 'base64url').toString()) as { kid: string }).kid
    header = { kid, aad: Buffer.from(headerSegment, 'ascii') }
    headers.set(headerSegment, header)
  }
  const key = keyFor(header.kid)
  if (key === undefined) return undefined
  const sub = openFloorToken(token, { encryption: key, signing: signingKey }, header.aad)?.['sub']
  return typeof sub === 'string' ? sub : undefined
}

const app = Fastify({ logger: false })
app.get('/me', async (request, reply) => {
  const userId = check(request.headers.cookie)
  if (userId === undefined) return await reply.code(401).send({ error: 'no session' })
  return { userId }
})
await app.listen({ host: '127.0.0.1', port: 0 })
// Cold only: the runner presents the tokens another process minted (as for this project's cold row).
announce(app.server, [])
