/** `npm run users -- ...`: the users CLI (users-process.ts) with this process's arguments. */
import { USERS_INVOKED_AS } from './invocations.js'
import { usersProcess } from './users-process.js'

await usersProcess(process.argv.slice(2), USERS_INVOKED_AS)
