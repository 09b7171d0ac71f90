/**
 * Renders `.env.example` and the reference part of docs/configuration.md from the one env schema, and the
 * options table of docs/plugin.md from the plugin's options schema, so they cannot disagree with the code
 * (test/service/config-docs.test.ts regenerates and compares). `npm run docs:config` writes all three.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { OBJECT_OPTIONS, PluginOptionsSchema, RateLimitSchema } from '../src/http/plugin-options.js'
import { ENV_OPTIONS, envSchema } from '../src/service/env-schema.js'

interface PropertySchema {
  type?: string
  anyOf?: Array<{ const?: unknown }>
  default?: unknown
  description?: string
  minimum?: number
  maximum?: number
  minLength?: number
  pattern?: string
  separator?: string
  maxItems?: number
}

const properties = envSchema.properties as unknown as Record<string, PropertySchema>

export const START = '<!-- generated from src/service/env-schema.ts by `npm run docs:config`: do not edit by hand -->'
export const OPTIONS_START = '<!-- generated from src/http/plugin-options.ts by `npm run docs:config`: do not edit by hand -->'
export const END = '<!-- end of generated section -->'

function wrap (text: string, width: number, prefix: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && prefix.length + line.length + 1 + word.length > width) {
      lines.push(prefix + line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(prefix + line)
  return lines
}

function typeOf (schema: PropertySchema): string {
  if (schema.anyOf !== undefined) return `one of ${schema.anyOf.map((s) => `\`${String(s.const)}\``).join(', ')}`
  if (schema.separator !== undefined) return 'comma-separated list'
  if (schema.type === 'integer') return `integer, ${String(schema.minimum)} to ${String(schema.maximum)}`
  if (schema.type === 'boolean') return 'boolean'
  if (schema.type === 'string' && schema.pattern !== undefined) return `string matching \`${schema.pattern}\``
  return schema.type ?? 'string'
}

function defaultText (schema: PropertySchema): string {
  return String(schema.default)
}

export function renderEnvExample (): string {
  const blocks = Object.entries(properties).map(([name, schema]) => [
    ...wrap(schema.description ?? '', 110, '# '),
    `${name}=${defaultText(schema)}`
  ].join('\n'))
  return [
    '# Configuration of the standalone service. Generated from src/service/env-schema.ts by',
    '# `npm run docs:config`; docs/configuration.md explains each variable. Copy to .env and edit.',
    '# Every value below is the default, so an unset variable behaves the same.',
    '',
    blocks.join('\n\n'),
    ''
  ].join('\n')
}

export function renderConfigReference (): string {
  const sections = Object.entries(properties).map(([name, schema]) => [
    `### \`${name}\``,
    '',
    schema.description ?? '',
    '',
    `- Type: ${typeOf(schema)}`,
    `- Default: ${defaultText(schema) === '' ? '(empty)' : `\`${defaultText(schema)}\``}`,
    ...(ENV_OPTIONS[name] === undefined ? [] : [`- Plugin option: \`${ENV_OPTIONS[name]}\` ([plugin.md](plugin.md#options))`])
  ].join('\n'))
  return [START, '', sections.join('\n\n'), '', END].join('\n')
}

const OPTION_ENV = new Map(Object.entries(ENV_OPTIONS).map(([env, option]) => [option, env]))

function cell (text: string): string {
  return text.replace(/\|/g, '\\|')
}

function optionRow (name: string, type: string, defaultValue: string, description: string): string {
  const env = OPTION_ENV.get(name)
  return `| \`${name}\` | ${cell(type)} | ${cell(defaultValue)} | ${env === undefined ? '' : `\`${env}\``} | ${cell(description)} |`
}

/** The options table of docs/plugin.md: every option, its type and range, default and variable. */
export function renderPluginOptionsTable (): string {
  const rows: string[] = []
  for (const [name, option] of Object.entries(OBJECT_OPTIONS)) {
    rows.push(optionRow(name, `\`${option.type}\``, option.description.startsWith('Required.') ? 'required' : '', option.description.replace(/^Required\. /, '')))
  }
  const schemaRow = (name: string, schema: PropertySchema): string => {
    const type = schema.type === 'array' ? 'array of strings' : schema.anyOf !== undefined ? '`false` or an object' : typeOf(schema)
    const value = schema.default === undefined ? 'see text' : `\`${JSON.stringify(schema.default)}\``
    return optionRow(name, type, value, schema.description ?? '')
  }
  for (const [name, schema] of Object.entries(PluginOptionsSchema.properties as unknown as Record<string, PropertySchema>)) {
    rows.push(schemaRow(name, schema))
    if (name === 'rateLimit') {
      for (const [key, limit] of Object.entries(RateLimitSchema.properties as unknown as Record<string, PropertySchema>)) rows.push(schemaRow(`rateLimit.${key}`, limit))
    }
  }
  return [OPTIONS_START, '', '| option | type | default | variable of the standalone service | |', '|---|---|---|---|---|', ...rows, '', END].join('\n')
}

function replaceSection (current: string, start: string, rendered: string, file: string): string {
  const from = current.indexOf(start)
  const to = current.indexOf(END, from)
  if (from === -1 || to === -1) throw new Error(`${file} lacks the generated-section markers`)
  return current.slice(0, from) + rendered + current.slice(to + END.length)
}

/** docs/configuration.md with its generated section replaced by a fresh rendering. */
export function renderConfigurationDoc (current: string): string {
  return replaceSection(current, START, renderConfigReference(), 'docs/configuration.md')
}

/** docs/plugin.md with its options table replaced by a fresh rendering. */
export function renderPluginDoc (current: string): string {
  return replaceSection(current, OPTIONS_START, renderPluginOptionsTable(), 'docs/plugin.md')
}

export function writeConfigDocs (root: string): void {
  writeFileSync(`${root}/.env.example`, renderEnvExample())
  const doc = `${root}/docs/configuration.md`
  writeFileSync(doc, renderConfigurationDoc(readFileSync(doc, 'utf8')))
  const plugin = `${root}/docs/plugin.md`
  writeFileSync(plugin, renderPluginDoc(readFileSync(plugin, 'utf8')))
}
