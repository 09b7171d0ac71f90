import { test } from 'tap'
import { newId } from '../../src/common/random-id.js'

test('ids are 128 random bits in canonical base64url, never repeated across pool refills', async (t) => {
  const seen = new Set<string>()
  // 256 ids per pool: this crosses a dozen refills.
  for (let i = 0; i < 3000; i++) {
    const id = newId()
    if (!/^[A-Za-z0-9_-]{22}$/.test(id) || Buffer.from(id, 'base64url').length !== 16 || Buffer.from(id, 'base64url').toString('base64url') !== id) {
      t.fail(`bad id ${id}`)
      return
    }
    seen.add(id)
  }
  t.equal(seen.size, 3000)
  // Every bit position varies: a stuck byte (a pool never refilled, an offset that does not move) would show.
  const bytes = [...seen].map((id) => Buffer.from(id, 'base64url'))
  for (let bit = 0; bit < 128; bit++) {
    const ones = bytes.filter((b) => ((b[bit >> 3] as number) >> (bit & 7)) & 1).length
    t.ok(ones > 1200 && ones < 1800, `bit ${bit} is set in about half the ids (${ones}/3000)`)
  }
})
