/**
 * Builds dist/ (`tsc -p tsconfig.build.json`) only when a source or a tsconfig is newer than the last build:
 * the pre-step of `npm start`, `npm run users`, `npm run backup` and `npm run demo` in a clone.
 *
 * Why not always `npm run build`: tsc takes seconds even when nothing changed (a `users` command took 3.9 s,
 * 0.5 s of it the command), and it is a development dependency, so after a production install from a clone
 * (`npm ci && npm run build && npm prune --omit=dev`) an unconditional build stopped `npm start`.
 *
 * Plain JavaScript with Node's own modules: it runs before anything is built, with or without tsx.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
const stamp = join(root, 'dist', '.tsbuildinfo')

function newest (dir) {
  let latest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }
  return latest
}

function builtAt () {
  try {
    return statSync(stamp).mtimeMs
  } catch {
    return 0
  }
}

const sources = Math.max(newest(join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json'].map((file) => statSync(join(root, file)).mtimeMs))
if (sources >= builtAt()) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  if (!existsSync(tsc)) {
    process.stderr.write('error: dist/ is older than src/ and TypeScript is not installed (a production install?): build first with `npm ci && npm run build`, then `npm prune --omit=dev`\n')
    process.exit(1)
  }
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
  } catch {
    // tsc printed its errors.
    process.exit(1)
  }
  // tsc writes nothing when no source really changed (a file only touched): the stamp says the build is current.
  const now = new Date()
  utimesSync(stamp, now, now)
}
