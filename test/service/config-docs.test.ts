/** The env schema, .env.example and docs/configuration.md say the same thing. */
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { envSchema } from '../../src/service/env-schema.js'
import { END, OPTIONS_START, renderConfigReference, renderConfigurationDoc, renderEnvExample, renderPluginDoc, START } from '../../scripts/config-docs.js'
import { OBJECT_OPTIONS, PluginOptionsSchema, RateLimitSchema } from '../../src/http/plugin-options.js'
import { ENV_OPTIONS } from '../../src/service/env-schema.js'

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

test('docs/plugin.md carries exactly the generated options table, with every option', async (t) => {
  const doc = readFileSync('docs/plugin.md', 'utf8')
  t.equal(doc, renderPluginDoc(doc), 'run `npm run docs:config` after changing the options schema')
  t.throws(() => renderPluginDoc('# no markers'), /lacks the generated-section markers/)
  const table = doc.slice(doc.indexOf(OPTIONS_START), doc.indexOf(END, doc.indexOf(OPTIONS_START)))
  const names = [...Object.keys(OBJECT_OPTIONS), ...Object.keys(PluginOptionsSchema.properties), ...Object.keys(RateLimitSchema.properties).map((k) => `rateLimit.${k}`)]
  for (const name of names) t.match(table, `| \`${name}\` |`, `${name} has a row`)
})

test('every variable mapped to a plugin option takes that option\'s schema, not a copy', async (t) => {
  const env = envSchema.properties as Record<string, { default?: unknown, minimum?: number, maximum?: number, pattern?: string }>
  const options = { ...PluginOptionsSchema.properties, ...Object.fromEntries(Object.entries(RateLimitSchema.properties).map(([k, v]) => [`rateLimit.${k}`, v])) } as Record<string, { default?: unknown, minimum?: number, maximum?: number, pattern?: string }>
  for (const [variable, option] of Object.entries(ENV_OPTIONS)) {
    const schema = options[option]
    // NODE_ENV=production sets the boolean `production`: not the same kind of value.
    if (schema === undefined || env[variable] === undefined || variable === 'NODE_ENV') continue
    t.equal(env[variable]?.minimum, schema.minimum, `${variable}: the minimum of ${option}`)
    t.equal(env[variable]?.maximum, schema.maximum, `${variable}: the maximum of ${option}`)
    t.equal(env[variable]?.pattern, schema.pattern, `${variable}: the pattern of ${option}`)
    // The one deliberate difference: REDIS_KEY_PREFIX also prefixes the store's own keys, under `session:`.
    if (variable === 'REDIS_KEY_PREFIX') t.equal(env[variable]?.default, 'session:', 'REDIS_KEY_PREFIX keeps the store\'s default')
    else if (schema.default !== undefined && !Array.isArray(schema.default)) t.same(env[variable]?.default, schema.default, `${variable}: the default of ${option}`)
  }
})
