/** `npm run backup -- ...`: the backup CLI (backup-process.ts) with this process's arguments. */
import { BACKUP_INVOKED_AS } from './invocations.js'
import { backupProcess } from './backup-process.js'

await backupProcess(process.argv.slice(2), BACKUP_INVOKED_AS)
