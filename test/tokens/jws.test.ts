/**
 * The hand-written HS256 verifier (src/tokens/jws.ts), branch by branch: each bad input below is signed with
 * the right key unless the case is about the signature, so it fails at exactly the check it targets. Several
 * of them (a `kid` member, `typ` in capitals or with `application/`, non-canonical signature bits) were
 * accepted by fast-jwt's verifier, which this one replaced.
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto'
import { test } from 'tap'
import { verifyJws } from '../../src/tokens/jws.js'
import { alterTrailingBits } from '../security/forge.js'

const KEY = randomBytes(32)
const OTHER_KEY = randomBytes(32)
const keyObject = createSecretKey(KEY)
const PAYLOAD = { sub: 'user-1', jti: 'AAAAAAAAAAAAAAAAAAAAAA', iat: 1, exp: 2 }

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64url')
const header = (value: unknown): string => b64(JSON.stringify(value))
const OURS = header({ alg: 'HS256', typ: 'at+jwt' })
const BODY = header(PAYLOAD)

function sign (headerSegment: string, payloadSegment: string, key = KEY): string {
  const input = `${headerSegment}.${payloadSegment}`
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`
}

/** A segment whose length leaves unused trailing bits (length % 4 of 2 or 3), so they can be set. */
function withSpareBits (json: string): string {
  let text = json
  while (b64(text).length % 4 === 0) text = `${text} `
  return b64(text)
}

test('our token, and the same header with its members in another order, verify', async (t) => {
  t.same(verifyJws(sign(OURS, BODY), 'access', keyObject), PAYLOAD)
  t.same(verifyJws(sign(header({ typ: 'at+jwt', alg: 'HS256' }), BODY), 'access', keyObject), PAYLOAD)
  t.same(verifyJws(sign(header({ alg: 'HS256', typ: 'rt+jwt' }), BODY), 'refresh', keyObject), PAYLOAD)
  const spacedHeader = withSpareBits('{"typ":"at+jwt","alg":"HS256"}')
  t.same(verifyJws(sign(spacedHeader, BODY), 'access', keyObject), PAYLOAD, 'control for the non-canonical header case')
  const spacedBody = withSpareBits(JSON.stringify(PAYLOAD))
  t.same(verifyJws(sign(OURS, spacedBody), 'access', keyObject), PAYLOAD, 'control for the non-canonical payload case')
})

test('every rejection branch of the JWS verifier', async (t) => {
  const good = sign(OURS, BODY)
  const signature = good.split('.')[2] as string
  const spacedHeader = withSpareBits('{"typ":"at+jwt","alg":"HS256"}')
  const spacedBody = withSpareBits(JSON.stringify(PAYLOAD))
  const cases: Array<[string, string]> = [
    // Layout: three base64url segments, a 43-character signature.
    ['two segments', `${OURS}.${BODY}`],
    ['four segments', `${good}.${signature}`],
    ['empty signature', `${OURS}.${BODY}.`],
    ['empty payload', sign(OURS, '')],
    ['42-character signature', good.slice(0, -1)],
    ['44-character signature', `${good}A`],
    ['HS512-sized signature', `${OURS}.${BODY}.${createHmac('sha512', KEY).update(`${OURS}.${BODY}`).digest('base64url')}`],
    ['padding', `${good}=`],
    ['a space', good.replace('.', ' .')],
    ['a non-ASCII byte, as the JWE plaintext decodes it', `${OURS}.${BODY}\u00e9.${signature}`],
    ['standard base64 characters', sign(OURS, BODY.replace(/.$/, '+'))],
    // Header: exactly {alg: HS256, typ} of the kind, canonical, a JSON object.
    ['header with non-canonical trailing bits', sign(alterTrailingBits(spacedHeader), BODY)],
    ['header not JSON', sign(b64('{"alg":"HS256",'), BODY)],
    ['header a JSON array', sign(header(['HS256', 'at+jwt']), BODY)],
    ['header JSON null', sign(header(null), BODY)],
    ['header a JSON string', sign(header('HS256'), BODY)],
    ['header without typ', sign(header({ alg: 'HS256' }), BODY)],
    ['header without alg', sign(header({ typ: 'at+jwt' }), BODY)],
    ['header with a kid', sign(header({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' }), BODY)],
    ['header with jku', sign(header({ alg: 'HS256', typ: 'at+jwt', jku: 'http://127.0.0.1:1/jwks' }), BODY)],
    ['header with crit', sign(header({ alg: 'HS256', typ: 'at+jwt', crit: ['b64'] }), BODY)],
    ['header with __proto__', sign(b64('{"alg":"HS256","typ":"at+jwt","__proto__":{}}'), BODY)],
    ['alg none', `${header({ alg: 'none', typ: 'at+jwt' })}.${BODY}.${signature}`],
    ['alg hs256 in lower case', sign(header({ alg: 'hs256', typ: 'at+jwt' }), BODY)],
    ['alg HS384', sign(header({ alg: 'HS384', typ: 'at+jwt' }), BODY)],
    ['typ in capitals', sign(header({ alg: 'HS256', typ: 'AT+JWT' }), BODY)],
    ['typ with application/', sign(header({ alg: 'HS256', typ: 'application/at+jwt' }), BODY)],
    ['typ JWT', sign(header({ alg: 'HS256', typ: 'JWT' }), BODY)],
    ['typ of the other kind', sign(header({ alg: 'HS256', typ: 'rt+jwt' }), BODY)],
    // Payload and signature encodings: one spelling only.
    ['payload with non-canonical trailing bits', sign(OURS, alterTrailingBits(spacedBody))],
    ['signature with non-canonical trailing bits (same 32 bytes)', alterTrailingBits(good)],
    // Signature.
    ['signature of another key', sign(OURS, BODY, OTHER_KEY)],
    ['signature of another payload', `${OURS}.${header({ ...PAYLOAD, sub: 'admin' })}.${signature}`],
    ['signature bytes flipped', `${OURS}.${BODY}.${(signature[0] === 'A' ? 'B' : 'A') + signature.slice(1)}`],
    // Payload, once the signature holds: a JSON object.
    ['payload not JSON', sign(OURS, b64('{"sub":'))],
    ['payload a JSON array', sign(OURS, header([PAYLOAD]))],
    ['payload JSON null', sign(OURS, header(null))],
    ['payload a JSON string', sign(OURS, header('claims'))],
    ['payload a JSON number', sign(OURS, header(1))]
  ]
  for (const [name, token] of cases) {
    t.not(token, good, `${name}: not the good token`)
    t.equal(verifyJws(token, 'access', keyObject), undefined, name)
  }
  t.equal(verifyJws(good, 'refresh', keyObject), undefined, 'an access token header is refused for the refresh kind')
})
