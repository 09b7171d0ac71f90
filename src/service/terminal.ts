/**
 * `npm start` in development on a terminal, for the person reading it: readable log lines (pino-pretty) and
 * a short banner saying where to go next. Production, and any output that is not a terminal (a container, a
 * supervisor, a pipe), keeps one JSON object per line.
 *
 * pino-pretty is a devDependency, loaded only when it is installed: a fresh clone has it; a production
 * install (`npm ci --omit=dev`) and the apps that embed the plugin never load it (nor its dozen packages),
 * and without it the service logs JSON as in production.
 */
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { EnvConfig } from './env-schema.js'
import { USERS_INVOKED_AS } from './cli/invocations.js'
import { SQLITE_FILE } from './open-stores.js'

/** Readable logs and the banner: development on a terminal only. */
export function wantsTerminalOutput (config: Pick<EnvConfig, 'NODE_ENV'>, stdout: { isTTY?: boolean }): boolean {
  return config.NODE_ENV === 'development' && stdout.isTTY === true
}

/** pino-pretty's stream, or undefined when it is not installed. */
export async function prettyLogStream (): Promise<NodeJS.WritableStream | undefined> {
  try {
    const { default: pretty } = await import('pino-pretty')
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', sync: true })
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw error
  }
}

const LOOPBACK_OR_ANY = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'])

/** The URL to use: localhost for a loopback or wildcard HOST, since the Secure cookies work there over http. */
export function serviceUrl (host: string, port: number): string {
  if (LOOPBACK_OR_ANY.has(host)) return `http://localhost:${port}`
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

export interface BannerFacts {
  url: string
  config: Pick<EnvConfig, 'STORE' | 'DATA_DIR' | 'REDIS_URL' | 'REDIS_KEY_PREFIX' | 'DEMO' | 'AUTH_PREFIX'>
  /** No user in the directory yet. */
  noUsers: boolean
  /** The command line that runs the users CLI, for the hint: `npm run users --` by default. */
  usersCommand?: string
}

/** Where the data lives, in words; never a password (the Redis URL loses its credentials). */
function dataLocation (config: BannerFacts['config']): string {
  switch (config.STORE) {
    case 'sqlite':
      return `${resolve(join(config.DATA_DIR, SQLITE_FILE))} (SQLite)`
    case 'memory':
      return 'in memory: lost when the service stops (STORE=memory)'
    default: {
      const url = new URL(config.REDIS_URL)
      return `Redis at ${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}, keys ${config.REDIS_KEY_PREFIX}* (STORE=redis)`
    }
  }
}

/** The banner, a few lines. */
export function bannerText (facts: BannerFacts): string {
  const { url, config } = facts
  const lines = [
    '',
    `  Session service ready: ${url}`,
    `  Data:  ${dataLocation(config)}`,
    `  API:   ${url}${config.AUTH_PREFIX}/login, ${url}${config.AUTH_PREFIX}/session; reference at ${url}/docs`
  ]
  if (config.DEMO) lines.push(`  Demo:  ${url}/`)
  if (facts.noUsers && !config.DEMO) lines.push(`  No users yet. Add one:  ${facts.usersCommand ?? USERS_INVOKED_AS} add <name>`)
  lines.push('')
  return lines.join('\n') + '\n'
}

/** The banner of a listening app. */
export async function startupBanner (app: FastifyInstance, config: EnvConfig, usersCommand?: string): Promise<string> {
  const port = (app.server.address() as AddressInfo).port
  const page = await app.users.listUsers({ offset: 0, limit: 1 })
  return bannerText({ url: serviceUrl(config.HOST, port), config, noUsers: page.total === 0, ...(usersCommand === undefined ? {} : { usersCommand }) })
}
