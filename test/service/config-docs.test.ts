/** The env schema, .env.example and docs/configuration.md say the same thing. */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { envSchema } from '../../src/service/env-schema.js'
import { END, renderConfigReference, renderConfigurationDoc, renderEnvExample, START } from '../../scripts/config-docs.js'

test('.env.example is exactly what the schema generates', async (t) => {
  t.equal(readFileSync('.env.example', 'utf8'), renderEnvExample(), 'run `npm run docs:config` after changing the schema')
})

test('docs/configuration.md carries exactly the generated reference', async (t) => {
  const doc = readFileSync('docs/configuration.md', 'utf8')
  t.equal(doc, renderConfigurationDoc(doc), 'run `npm run docs:config` after changing the schema')
  t.throws(() => renderConfigurationDoc('# no markers'), /lacks the generated-section markers/)
  t.ok(renderConfigReference().startsWith(START) && renderConfigReference().endsWith(END))
})

test('every variable has a description and a default, and appears in both files', async (t) => {
  const example = readFileSync('.env.example', 'utf8')
  const doc = readFileSync('docs/configuration.md', 'utf8')
  for (const [name, schema] of Object.entries(envSchema.properties as Record<string, { description?: string, default?: unknown }>)) {
    t.ok(typeof schema.description === 'string' && schema.description.length > 10, `${name} is described`)
    t.not(schema.default, undefined, `${name} has a default`)
    t.match(example, new RegExp(`^${name}=`, 'm'), `${name} in .env.example`)
    t.match(doc, `### \`${name}\``, `${name} in docs/configuration.md`)
  }
})
