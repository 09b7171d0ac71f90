/**
 * Renders `.env.example` and the reference part of docs/configuration.md from the one env schema, so the
 * three cannot disagree (test/config/config-docs.test.ts regenerates and compares).
 * `npm run docs:config` writes both files.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { envSchema } from '../src/service/env-schema.js'

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
}

const properties = envSchema.properties as unknown as Record<string, PropertySchema>

export const START = '<!-- generated from src/service/env-schema.ts by `npm run docs:config`: do not edit by hand -->'
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
    `- Default: ${defaultText(schema) === '' ? '(empty)' : `\`${defaultText(schema)}\``}`
  ].join('\n'))
  return [START, '', sections.join('\n\n'), '', END].join('\n')
}

/** docs/configuration.md with its generated section replaced by a fresh rendering. */
export function renderConfigurationDoc (current: string): string {
  const start = current.indexOf(START)
  const end = current.indexOf(END)
  if (start === -1 || end === -1) throw new Error('docs/configuration.md lacks the generated-section markers')
  return current.slice(0, start) + renderConfigReference() + current.slice(end + END.length)
}

export function writeConfigDocs (root: string): void {
  writeFileSync(`${root}/.env.example`, renderEnvExample())
  const doc = `${root}/docs/configuration.md`
  writeFileSync(doc, renderConfigurationDoc(readFileSync(doc, 'utf8')))
}
