#!/usr/bin/env node
/**
 * The package's executable (package.json `bin`): what the repository runs with npm scripts, under one name, so
 * an installed package needs no internal paths.
 *
 *   fastify-stateless-session [start]      the service, as `npm start` (also with no command)
 *   fastify-stateless-session users ...    the users CLI, as `npm run users -- ...`
 *   fastify-stateless-session backup ...   the backup CLI, as `npm run backup -- ...`
 *
 * Only the chosen entry is loaded (a dynamic import), so `--help` and `--version` load no dependency. The
 * entries are the same process wrappers the npm scripts run: they run when imported and take their arguments
 * from process.argv, so `users` and `backup` are taken out of it first and the CLIs see what follows them, as
 * under npm run. `start` is left in: with WORKERS above 1, node:cluster forks each worker as
 * `node <this file> <the same arguments>`, and the worker must take the start path again. Source maps are
 * turned on as `node --enable-source-maps` does in the npm scripts (a shebang line cannot pass the flag).
 */
import { readFileSync } from 'node:fs'

const USAGE = `usage: fastify-stateless-session [<command>] [<arguments>]

commands:
  start            run the service (the default): settings from the environment and ./.env, as \`npm start\`
  users <args>     manage users in the service's store, as \`npm run users -- <args>\` (users --help)
  backup <args>    back up, verify or restore the SQLite store, as \`npm run backup -- <args>\` (backup --help)
  help             show this help

options:
  -h, --help       show this help
  --version        print the package's version`

function usageError (message: string): void {
  process.stderr.write(`error: ${message}\n${USAGE}\n`)
  process.exitCode = 2
}

const [command, ...rest] = process.argv.slice(2)

switch (command) {
  case undefined:
  case 'start':
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
      process.stdout.write(USAGE + '\n')
    } else if (rest.length > 0) {
      usageError(`start takes no arguments (its settings come from the environment and ./.env), got: ${rest.join(' ')}`)
    } else {
      process.setSourceMapsEnabled(true)
      await import('../server.js')
    }
    break
  case 'users':
  case 'backup':
    process.argv.splice(2, 1)
    process.setSourceMapsEnabled(true)
    await (command === 'users' ? import('./users-main.js') : import('./backup-main.js'))
    break
  case 'help':
  case '-h':
  case '--help':
    process.stdout.write(USAGE + '\n')
    break
  case '--version': {
    // The package root, from src/service/cli/ and from dist/service/cli/ alike.
    const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
    process.stdout.write(manifest.version + '\n')
    break
  }
  default:
    usageError(`unknown command "${command}"`)
}
