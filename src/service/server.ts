/** Entry point of the standalone service (`npm start`): the service as a process (service-process.ts). */
import { USERS_INVOKED_AS } from './cli/invocations.js'
import { runService } from './service-process.js'

await runService({ usersCommand: USERS_INVOKED_AS })
