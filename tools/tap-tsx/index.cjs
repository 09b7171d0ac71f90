'use strict'
// A tap plugin that loads TypeScript through tsx (esbuild) in place of @tapjs/typescript (ts-node).
// Why: on this 2-core machine ts-node needs seconds to start every test process and every server a test
// spawns (18 s against 2 s measured for the users CLI under load). Types are checked once, by `tsc`, in
// `npm test` before tap runs.
exports.importLoader = 'tsx'
exports.testFileExtensions = ['ts']
exports.plugin = () => ({})
