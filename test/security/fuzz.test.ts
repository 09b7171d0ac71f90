/**
 * Seeded fuzzing of the verify path (docs/security.md rules 1-6): at least 50,000 mutations of valid access and
 * refresh tokens (bit flips in every segment, truncations, segment swaps, duplications and drops, header
 * edits re-encrypted with the real key, inner header and payload edits, base64url re-encodings, splices,
 * garbage) against SessionService.authenticate and refresh in process, with the verified-token cache on and
 * off, plus a sample through HTTP. Zero accepted, zero exceptions, every HTTP answer the same 401 body.
 *
 * Replay a failure: FUZZ_SEED=<seed printed below> npx tap test/security/fuzz.test.ts
 */
import { randomInt } from 'node:crypto'
import { test } from 'tap'
import { TEST_SECRET } from '../helper.js'
import { b64, encryptionKey, epochOf, jwe, jws, signingKey, TYP, unb64, type Kind } from './forge.js'
import { ACCESS, INVALID_JSON, REFRESH, refreshWith, securityApp, sessionWith, type SecurityApp } from './kit.js'

const MUTATIONS_PER_APP = 25_000
const HTTP_SAMPLE = 600
const SEED = process.env['FUZZ_SEED'] === undefined ? randomInt(2 ** 31) : Number(process.env['FUZZ_SEED'])
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const JUNK = `${ALPHABET}=+/.%" {}[],:;\t\n\\\u0000\u00e9\u2028`

type Random = () => number

function mulberry32 (seed: number): Random {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

interface Source {
  kind: Kind
  token: string
  outer: Record<string, unknown>
  innerHeader: Record<string, unknown>
  claims: Record<string, unknown>
  epoch: number
  /** The other kind's token, for splices. */
  other: string
}

/** Values that make a JOSE header member wrong (every one of them). */
const BAD_OUTER: Record<string, unknown[]> = {
  alg: ['none', 'NONE', 'nOnE', 'A256KW', 'RSA-OAEP', 'dir ', 'DIR', '', null, 1, ['dir']],
  enc: ['A128GCM', 'A256CBC-HS512', 'a256gcm', '', null, {}],
  cty: ['jwt', 'JSON', 'application/jwt', '', null],
  kid: ['../../etc/passwd', '__proto__', 'constructor', 'AAAAAAAA.1', '', 'x'.repeat(65), 7, null, ['a']],
  zip: ['DEF'],
  crit: [['exp'], [], 'zip'],
  jku: ['http://127.0.0.1:1/jwks'],
  jwk: [{ kty: 'oct', k: 'AAAA' }],
  x5u: ['http://127.0.0.1:1/cert'],
  x5c: [['MIIB']],
  typ: ['JWT'],
  epk: [{}],
  p2s: ['AAAA']
}
const BAD_INNER: Array<[Record<string, unknown>, 'sha256' | 'sha384' | 'sha512' | null]> = [
  [{ alg: 'none' }, null],
  [{ alg: 'NONE' }, null],
  [{ alg: 'nOnE' }, null],
  [{ alg: 'HS512' }, 'sha512'],
  [{ alg: 'HS384' }, 'sha384'],
  [{ alg: 'RS256' }, 'sha256'],
  [{ alg: 'ES256' }, 'sha256'],
  [{ alg: undefined }, 'sha256'],
  [{ typ: undefined }, 'sha256'],
  [{ typ: 'JWT' }, 'sha256'],
  [{ typ: 'at+jwt+x' }, 'sha256'],
  [{ crit: ['x'], x: 1 }, 'sha256'],
  [{ crit: ['b64'], b64: false }, 'sha256']
]
const BAD_CLAIM_VALUES: unknown[] = ['1', 1e21, -1, 1.5, null, [], {}, '', 'x'.repeat(300), true]

function pick<T> (random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T
}

function flipBitIn (random: Random, bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes)
  if (copy.length === 0) return Buffer.from([Math.floor(random() * 256)])
  const i = Math.floor(random() * copy.length)
  copy[i] = (copy[i] as number) ^ (1 << Math.floor(random() * 8))
  return copy
}

function segments (token: string): string[] {
  return token.split('.')
}

function reencrypt (source: Source, outer: Record<string, unknown>, plaintext: string): string {
  return jwe(plaintext, { header: outer, key: encryptionKey(TEST_SECRET, source.kind, source.epoch) })
}

function innerOf (source: Source, header: Record<string, unknown>, hash: 'sha256' | 'sha384' | 'sha512' | null): string {
  return jws(header, source.claims, hash === null ? null : signingKey(TEST_SECRET, source.kind), hash ?? 'sha256')
}

function withMember (base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...base }
  if (value === undefined) Reflect.deleteProperty(copy, key)
  else copy[key] = value
  return copy
}

/** Each mutator turns a valid token into a different string that must not verify. */
const MUTATORS: Record<string, (random: Random, s: Source) => string> = {
  'bit flip in a segment' (random, s) {
    const parts = segments(s.token)
    const i = Math.floor(random() * parts.length)
    parts[i] = flipBitIn(random, unb64(parts[i] as string)).toString('base64url')
    return parts.join('.')
  },
  'bit flip in a character' (random, s) {
    const i = Math.floor(random() * s.token.length)
    const code = s.token.charCodeAt(i) ^ (1 << Math.floor(random() * 7))
    return s.token.slice(0, i) + String.fromCharCode(code) + s.token.slice(i + 1)
  },
  'character replaced' (random, s) {
    const i = Math.floor(random() * s.token.length)
    return s.token.slice(0, i) + pick(random, [...JUNK]) + s.token.slice(i + 1)
  },
  'character inserted' (random, s) {
    const i = Math.floor(random() * (s.token.length + 1))
    return s.token.slice(0, i) + pick(random, [...JUNK]) + s.token.slice(i)
  },
  'character deleted' (random, s) {
    const i = Math.floor(random() * s.token.length)
    return s.token.slice(0, i) + s.token.slice(i + 1)
  },
  truncated (random, s) {
    return random() < 0.5 ? s.token.slice(0, Math.floor(random() * s.token.length)) : s.token.slice(1 + Math.floor(random() * (s.token.length - 1)))
  },
  'segments swapped' (random, s) {
    const parts = segments(s.token)
    const i = Math.floor(random() * 5)
    let j = Math.floor(random() * 5)
    if (parts[i] === parts[j]) j = (i + 1 + Math.floor(random() * 4)) % 5
    ;[parts[i], parts[j]] = [parts[j] as string, parts[i] as string]
    return parts.join('.')
  },
  'segment duplicated' (random, s) {
    const parts = segments(s.token)
    const i = Math.floor(random() * 5)
    parts.splice(Math.floor(random() * 6), 0, parts[i] as string)
    return parts.join('.')
  },
  'segment copied over another' (random, s) {
    const parts = segments(s.token)
    const i = Math.floor(random() * 5)
    let j = Math.floor(random() * 5)
    if (parts[i] === parts[j]) j = (i + 1 + Math.floor(random() * 4)) % 5
    parts[j] = parts[i] as string
    return parts.join('.')
  },
  'segment dropped' (random, s) {
    const parts = segments(s.token)
    parts.splice(Math.floor(random() * 5), 1)
    return parts.join('.')
  },
  'segment spliced from the other kind' (random, s) {
    const parts = segments(s.token)
    // Not the header: both kinds share its text (same kid), so it would change nothing.
    const i = pick(random, [2, 3, 4])
    parts[i] = segments(s.other)[i] as string
    return parts.join('.')
  },
  'outer header edited, re-encrypted with the real key' (random, s) {
    const member = pick(random, Object.keys(BAD_OUTER))
    const outer = withMember(s.outer, member, pick(random, BAD_OUTER[member] as unknown[]))
    const edited = random() < 0.2 ? withMember(outer, pick(random, ['alg', 'enc', 'cty', 'kid']), undefined) : outer
    return reencrypt(s, edited, innerOf(s, s.innerHeader, 'sha256'))
  },
  'inner header edited, re-signed and re-encrypted' (random, s) {
    const [edit, hash] = pick(random, BAD_INNER)
    let header = { ...s.innerHeader }
    for (const [key, value] of Object.entries(edit)) header = withMember(header, key, value)
    return reencrypt(s, s.outer, innerOf(s, header, hash))
  },
  'inner typ of the other kind, re-signed and re-encrypted' (_random, s) {
    return reencrypt(s, s.outer, innerOf(s, { ...s.innerHeader, typ: TYP[s.kind === 'access' ? 'refresh' : 'access'] }, 'sha256'))
  },
  'claim edited, not re-signed' (random, s) {
    const [header, , signature] = innerOf(s, s.innerHeader, 'sha256').split('.')
    const key = pick(random, Object.keys(s.claims))
    const values = BAD_CLAIM_VALUES.filter((v) => JSON.stringify(v) !== JSON.stringify(s.claims[key]))
    const claims = { ...s.claims, [key]: pick(random, values) }
    return reencrypt(s, s.outer, `${header ?? ''}.${b64(claims)}.${signature ?? ''}`)
  },
  'claim made invalid, re-signed and re-encrypted' (random, s) {
    const key = pick(random, ['iss', 'aud', 'sub', 'jti', 'sid', 'iat', 'exp', 'auth_time'])
    const value = key === 'iat' || key === 'exp' || key === 'auth_time' ? pick(random, ['1', 1.5, -1, null, 1e21]) : pick(random, [1, null, [], {}, '', 'x'.repeat(300)])
    const claims = withMember(s.claims, key, random() < 0.3 ? undefined : value)
    return reencrypt(s, s.outer, jws(s.innerHeader, claims, signingKey(TEST_SECRET, s.kind)))
  },
  'inner signature bit flip' (random, s) {
    const [header, payload, signature] = innerOf(s, s.innerHeader, 'sha256').split('.')
    return reencrypt(s, s.outer, `${header ?? ''}.${payload ?? ''}.${flipBitIn(random, unb64(signature ?? '')).toString('base64url')}`)
  },
  'plaintext not a JWS' (random, s) {
    return reencrypt(s, s.outer, pick(random, [JSON.stringify(s.claims), '', 'null', s.token, `${b64(s.innerHeader)}.${b64(s.claims)}`]))
  },
  'non-canonical trailing bits' (random, s) {
    const parts = segments(s.token)
    const candidates = [0, 2, 3, 4].filter((i) => (parts[i] as string).length % 4 !== 0)
    const i = pick(random, candidates)
    const segment = parts[i] as string
    const last = ALPHABET.indexOf(segment.at(-1) as string)
    const bits = segment.length % 4 === 2 ? 0x0f : 0x03
    parts[i] = segment.slice(0, -1) + (ALPHABET[(last & ~bits) | (1 + Math.floor(random() * bits))] as string)
    return parts.join('.')
  },
  'padding added' (random, s) {
    const parts = segments(s.token)
    const i = pick(random, [0, 2, 3, 4])
    parts[i] = `${parts[i] ?? ''}${'='.repeat(1 + Math.floor(random() * 2))}`
    return parts.join('.')
  },
  'standard base64 alphabet' (random, s) {
    const parts = segments(s.token)
    const i = pick(random, [0, 2, 3, 4])
    parts[i] = unb64(parts[i] as string).toString('base64')
    return parts.join('.') === s.token ? `${s.token}+` : parts.join('.')
  },
  'percent-encoded' (random, s) {
    const i = Math.floor(random() * s.token.length)
    return `${s.token.slice(0, i)}%${s.token.charCodeAt(i).toString(16).toUpperCase()}${s.token.slice(i + 1)}`
  },
  'whitespace' (random, s) {
    const i = Math.floor(random() * (s.token.length + 1))
    return s.token.slice(0, i) + pick(random, [' ', '\t', '\n', '\r\n', '\u00a0']) + s.token.slice(i)
  },
  'case changed' (random, s) {
    const parts = segments(s.token)
    const i = pick(random, [0, 2, 3, 4])
    const segment = parts[i] as string
    const swapped = [...segment].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('')
    parts[i] = swapped === segment ? `${segment}A` : swapped
    return parts.join('.')
  },
  'wrapped or repeated' (random, s) {
    return pick(random, [`"${s.token}"`, `${s.token}.${s.token}`, `${s.token}${s.token}`, `[${s.token}]`, `Bearer ${s.token}`, JSON.stringify({ token: s.token })])
  },
  garbage (random) {
    const length = Math.floor(random() * 200)
    let text = ''
    for (let i = 0; i < length; i++) text += pick(random, [...JUNK])
    return text
  }
}

async function source (s: SecurityApp, kind: Kind): Promise<Source> {
  const token = s.alice.jar.get(kind === 'access' ? ACCESS : REFRESH) as string
  const opened = s.forge.open(token, kind)
  return {
    kind,
    token,
    outer: opened.outer,
    innerHeader: opened.innerHeader,
    claims: opened.claims,
    epoch: epochOf(opened.claims['iat'] as number),
    other: s.alice.jar.get(kind === 'access' ? REFRESH : ACCESS) as string
  }
}

test(`fuzzing the verify path (seed ${SEED})`, async (t) => {
  t.comment(`seed ${SEED}: replay with FUZZ_SEED=${SEED} npx tap test/security/fuzz.test.ts`)
  const random = mulberry32(SEED)
  const names = Object.keys(MUTATORS)
  let total = 0
  for (const cache of [true, false]) {
    const s = await securityApp(t, { cache, env: { RATE_LIMIT_REFRESH_IP_MAX: '100000' } })
    const sources = { access: await source(s, 'access'), refresh: await source(s, 'refresh') }
    t.equal(typeof s.app.sessions.authenticate(sources.access.token), 'object', 'the unmutated access token is valid')
    const accepted: string[] = []
    const thrown: string[] = []
    const perMutator = new Map<string, number>()
    const sample: Array<[Kind, string]> = []

    for (let n = 0; n < MUTATIONS_PER_APP; n++) {
      const kind: Kind = n % 2 === 0 ? 'access' : 'refresh'
      const name = names[n % names.length] as string
      const mutate = MUTATORS[name] as (random: Random, s: Source) => string
      // A mutation that happens to give the original back (a character replaced by itself) is drawn again.
      let mutated = mutate(random, sources[kind])
      for (let retry = 0; mutated === sources[kind].token && retry < 20; retry++) mutated = mutate(random, sources[kind])
      if (mutated === sources[kind].token) {
        thrown.push(`${name}: cannot produce anything but the original token`)
        continue
      }
      perMutator.set(name, (perMutator.get(name) ?? 0) + 1)
      try {
        if (kind === 'access') {
          const result = s.app.sessions.authenticate(mutated)
          if (typeof result !== 'string') accepted.push(`${name}: ${mutated}`)
        } else {
          const result = await s.app.sessions.refresh(mutated)
          if (result.status !== 'invalid') accepted.push(`${name}: ${result.status} ${mutated}`)
        }
      } catch (error) {
        thrown.push(`${name}: ${String(error)} for ${JSON.stringify(mutated)}`)
      }
      if (sample.length < HTTP_SAMPLE && random() < (HTTP_SAMPLE * 1.5) / MUTATIONS_PER_APP && /^[\x21-\x7e]+$/.test(mutated)) sample.push([kind, mutated])
    }
    total += [...perMutator.values()].reduce((a, b) => a + b, 0)
    t.same(accepted, [], `cache ${cache ? 'on' : 'off'}: no mutation accepted`)
    t.same(thrown, [], `cache ${cache ? 'on' : 'off'}: no exception`)
    t.equal(perMutator.size, names.length, 'every mutator ran')

    let answers = 0
    const odd: string[] = []
    for (const [kind, mutated] of sample) {
      const response = kind === 'access' ? await sessionWith(s.app, `${ACCESS}=${mutated}`) : await refreshWith(s.app, `${REFRESH}=${mutated}`)
      answers++
      if (response.statusCode !== 401 || response.body !== INVALID_JSON) odd.push(`${kind} ${response.statusCode} ${response.body} for ${mutated}`)
    }
    t.same(odd, [], `cache ${cache ? 'on' : 'off'}: ${answers} HTTP answers, every one the same 401 body`)
    t.ok(answers >= HTTP_SAMPLE / 2, 'a real HTTP sample')
    t.equal(typeof s.app.sessions.authenticate(sources.access.token), 'object', 'the real token still works (nothing counted against it)')
    t.equal((await s.alice.request('POST', '/auth/refresh')).statusCode, 200, 'the real refresh token still rotates: no mutation counted as reuse')
  }
  t.ok(total >= 50_000, `${total} mutations`)
})
