import { writeConfigDocs } from './config-docs.js'

writeConfigDocs(process.cwd())
