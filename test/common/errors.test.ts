/** src/errors.ts and docs/errors.md list the same codes, with the same status. */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { allErrors, httpErrors } from '../../src/common/errors.js'

const doc = readFileSync('docs/errors.md', 'utf8')
const documented = [...doc.matchAll(/^### (ERR_[A-Z_]+)$/gm)].map((m) => m[1] as string)

test('every error code is documented, and every documented code exists', async (t) => {
  const codes = allErrors.map((E) => new E().code)
  t.same([...documented].sort(), [...codes].sort())
  t.equal(new Set(codes).size, codes.length, 'codes are unique')
})

test('every HTTP error is documented with its status', async (t) => {
  for (const E of httpErrors) {
    const error = new E()
    const section = doc.slice(doc.indexOf(`### ${error.code}\n`)).split('\n### ')[0] as string
    t.match(section, `- Status: ${String(error.statusCode)}`, error.code)
  }
})
