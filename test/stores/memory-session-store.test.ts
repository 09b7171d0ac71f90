import { test } from 'tap'
import { MemorySessionStore } from '../../src/stores/memory-session-store.js'
import { storeContract } from './contract.js'

test('memory store contract', async (t) => {
  storeContract(t, {
    open: async (t) => {
      const store = new MemorySessionStore()
      t.teardown(async () => await store.close())
      return store
    }
  })
})
