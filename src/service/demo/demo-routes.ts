/**
 * The demo page (DEMO=true; refused in production): `/`, its stylesheet, and the browser modules it loads
 * (the session client and the page's code), read once at start from the compiled build. One route per
 * file, so no request path ever reaches the file system.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InvalidOptionError } from '../../common/errors.js'
import { DEMO_CSP, DEMO_CSS, demoHtml, type DemoPageOptions } from './demo-html.js'

/** The build output, dist/: three levels up from this file both as src/service/demo/*.ts and as dist/service/demo/*.js. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../../dist/', import.meta.url))

/** Folders of browser modules under the build output; each is served at the same path. */
const MODULE_DIRS = ['client', 'service/demo/page']
const REQUIRED = ['/client/session-client.js', '/service/demo/page/demo-page.js']

export interface DemoRoutesOptions extends DemoPageOptions {
  /** The build output holding client/ and service/demo/page/. */
  assetsDir: string
}

function listJs (dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name.endsWith('.js'))
  } catch {
    return []
  }
}

/** URL path to module source, for every compiled browser module. */
export function loadBrowserModules (assetsDir: string): Map<string, string> {
  const modules = new Map<string, string>()
  for (const dir of MODULE_DIRS) {
    for (const name of listJs(join(assetsDir, dir))) {
      modules.set(`/${dir}/${name}`, readFileSync(join(assetsDir, dir, name), 'utf8'))
    }
  }
  if (!REQUIRED.every((path) => modules.has(path))) {
    throw new InvalidOptionError(`DEMO=true serves the compiled browser code, which is not in ${assetsDir}: run \`npm run build\` first`)
  }
  return modules
}

function staticHeaders (reply: FastifyReply, type: string): FastifyReply {
  return reply.type(type).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache')
}

export const demoRoutes: FastifyPluginAsync<DemoRoutesOptions> = async function demoRoutes (fastify, options) {
  const modules = loadBrowserModules(options.assetsDir)
  const html = demoHtml(options)
  const hide = { schema: { hide: true } }

  fastify.get('/', hide, async (_request, reply) => {
    staticHeaders(reply, 'text/html; charset=utf-8')
      .header('content-security-policy', DEMO_CSP)
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
    return html
  })

  fastify.get('/demo/demo.css', hide, async (_request, reply) => {
    staticHeaders(reply, 'text/css; charset=utf-8')
    return DEMO_CSS
  })

  for (const [path, source] of modules) {
    fastify.get(path, hide, async (_request, reply) => {
      staticHeaders(reply, 'text/javascript; charset=utf-8')
      return source
    })
  }
}
