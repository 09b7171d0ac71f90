/**
 * The argon2id hasher on its own: a hash verifies its password only; a stored hash that cannot be read (a
 * damaged row, another algorithm's format, an empty field) verifies nothing and never throws, so a login
 * against it is a plain refusal rather than a 500.
 */
import { test } from 'tap'
import { PasswordHasher } from '../../src/users/password-hasher.js'
import { FAST_HASH } from '../helper.js'

test('verify: the right password only; an unreadable hash is false, not an error', async (t) => {
  const hasher = new PasswordHasher(FAST_HASH)
  const hash = await hasher.hash('correct horse battery staple')
  t.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
  t.equal(await hasher.verify(hash, 'correct horse battery staple'), true)
  t.equal(await hasher.verify(hash, 'correct horse battery stapler'), false)
  for (const unreadable of ['', 'not a hash', '$2b$10$abcdefghijklmnopqrstuv', hash.slice(0, -10), '$argon2id$v=19$m=1024,t=1,p=1$!!!$???']) {
    t.equal(await hasher.verify(unreadable, 'correct horse battery staple'), false, JSON.stringify(unreadable.slice(0, 24)))
  }
})
