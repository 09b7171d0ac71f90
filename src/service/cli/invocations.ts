/**
 * The command lines a person types to run the CLIs, named in usage texts and hints: from a clone through the
 * npm scripts, or through the installed package's executable (bin.ts). A module of its own, with no imports,
 * so the service's entry point can name the users CLI without loading it.
 */
export const PROGRAM = 'fastify-stateless-session'

export const USERS_INVOKED_AS = 'npm run users --'
export const BACKUP_INVOKED_AS = 'npm run backup --'
export const PROGRAM_USERS = `${PROGRAM} users`
export const PROGRAM_BACKUP = `${PROGRAM} backup`
