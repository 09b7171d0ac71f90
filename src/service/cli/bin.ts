#!/usr/bin/env node
/**
 * The package's executable (package.json `bin`): what the repository runs with npm scripts, under one name, so
 * an installed package needs no internal paths.
 *
 *   fastify-stateless-session [start]      the service, as `npm start` (also with no command)
 *   fastify-stateless-session users ...    the users CLI, as `npm run users -- ...`
 *   fastify-stateless-session backup ...   the backup CLI, as `npm run backup -- ...`
 *
 * Only the chosen entry is loaded (a dynamic import), so `--help` and `--version` load no dependency. `users`
 * and `backup` run the same process wrappers as the npm scripts, given what follows the command and this
 * command line for their usage and hints. `start` runs server.js as `npm start` does; process.argv keeps
 * `start`: with WORKERS above 1, node:cluster forks each worker as `node <this file> <the same arguments>`,
 * and the worker must take the start path again. Source maps are turned on as `node --enable-source-maps`
 * does in the npm scripts (a shebang line cannot pass the flag).
 */
import { readFileSync } from 'node:fs'
import { PROGRAM, PROGRAM_BACKUP, PROGRAM_USERS } from './invocations.js'

const USAGE = `usage: ${PROGRAM} [<command>] [<arguments>]

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
      await (await import('../service-process.js')).runService({ usersCommand: PROGRAM_USERS })
    }
    break
  case 'users':
    process.setSourceMapsEnabled(true)
    await (await import('./users-process.js')).usersProcess(rest, PROGRAM_USERS)
    break
  case 'backup':
    process.setSourceMapsEnabled(true)
    await (await import('./backup-process.js')).backupProcess(rest, PROGRAM_BACKUP)
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
