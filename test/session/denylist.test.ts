import { test } from 'tap'
import { Denylist } from '../../src/session/denylist.js'

test('the denylist covers tokens, families and subjects, and forgets what expired', async (t) => {
  const list = new Denylist()
  list.addAll([
    { kind: 'token', id: 'jti-1', expiresAt: 100 },
    { kind: 'family', id: 'fam-1', expiresAt: 200 },
    { kind: 'subject', id: 'user-1', notBefore: 50, expiresAt: 300 }
  ])
  t.equal(list.isRevoked('jti-1', 'fam-x', 'user-x', 10), true, 'token id')
  t.equal(list.isRevoked('jti-x', 'fam-1', 'user-x', 10), true, 'family')
  t.equal(list.isRevoked('jti-x', 'fam-x', 'user-1', 49), true, 'issued before the subject cut-off')
  t.equal(list.isRevoked('jti-x', 'fam-x', 'user-1', 50), false, 'issued at or after it')
  t.equal(list.isRevoked('jti-x', 'fam-x', 'user-x', 10), false)
  t.equal(list.isFamilyRevoked('fam-1'), true)
  t.equal(list.size, 3)

  list.add({ kind: 'token', id: 'jti-1', expiresAt: 50 })
  list.add({ kind: 'subject', id: 'user-1', notBefore: 40, expiresAt: 250 })
  t.equal(list.purge(100), 1, 'the later expiry is kept; nothing else expired yet')
  t.equal(list.isRevoked('jti-1', 'fam-x', 'user-x', 0), false, 'token entry gone at its expiry')
  t.equal(list.isRevoked('jti-x', 'fam-x', 'user-1', 45), true, 'the later cut-off is kept')
  list.add({ kind: 'subject', id: 'user-1', notBefore: 60, expiresAt: 250 })
  t.equal(list.isRevoked('jti-x', 'fam-x', 'user-1', 55), true, 'a later cut-off moves it forward')
  t.equal(list.purge(300), 2)
  t.equal(list.size, 0)
})
