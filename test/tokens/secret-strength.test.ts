/** assessSecret: production refuses secrets that cannot be random (docs/security.md, rule 7). */
import { randomBytes } from 'node:crypto'
import { test } from 'tap'
import { assessSecret } from '../../src/tokens/secret-strength.js'

test('a short pattern repeated to the minimum length is weak, whatever its variety', async (t) => {
  const weak: Array<[string, string]> = [
    ['ten digits four times', '0123456789'.repeat(4)],
    ['sixteen letters twice', 'abcdefghijklmnop'.repeat(2)],
    ['a phrase typed twice, with an ending', 'Kx9#mQ2$vL7!' + 'Kx9#mQ2$vL7!' + 'zz8801-tail'],
    ['a random half repeated', (() => { const half = randomBytes(16).toString('hex'); return half + half })()],
    ['one character', 'a'.repeat(64)],
    ['a placeholder', 'please-replace-this-with-a-real-key-now']
  ]
  for (const [name, secret] of weak) t.equal(assessSecret(Buffer.from(secret)), 'weak', name)
  t.equal(assessSecret(Buffer.from('0123456789'.repeat(3))), 'short')
})

test('random secrets in every usual encoding pass (no false alarm in 20,000 draws)', async (t) => {
  let refused = 0
  for (let i = 0; i < 4000; i++) {
    for (const secret of [
      Buffer.from(randomBytes(32).toString('base64')),
      Buffer.from(randomBytes(32).toString('base64url')),
      Buffer.from(randomBytes(32).toString('hex')),
      randomBytes(32),
      randomBytes(64)
    ]) {
      if (assessSecret(secret) !== undefined) refused++
    }
  }
  t.equal(refused, 0)
})
