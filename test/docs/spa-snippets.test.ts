/**
 * Every TypeScript snippet of docs/spa.md (```ts and ```tsx), with the React hook and the Vue composable of
 * docs/examples, compiles as browser code: the project's strict settings and the DOM library. The snippets are
 * written as files beside the two examples, as an app would hold them, and import the client by its package
 * name, resolved to src/ by the project's tsconfig paths; src/ holds server code the client's wire types sit
 * beside, hence Node.js types here (test/package/consumer.test.ts checks the shipped client without them).
 */
import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const EXAMPLES = ['react-use-session.ts', 'vue-use-session.ts']

/** The ```ts and ```tsx blocks of a markdown file, with their language. */
export function snippets (markdown: string): Array<{ lang: 'ts' | 'tsx', code: string }> {
  return [...markdown.matchAll(/^```(tsx?)\n([\s\S]*?)^```$/gm)].map((match) => ({ lang: match[1] as 'ts' | 'tsx', code: match[2] as string }))
}

test('docs/spa.md: every TypeScript snippet and the React and Vue examples compile under strict', async (t) => {
  const doc = readFileSync(join(root, 'docs/spa.md'), 'utf8')
  const found = snippets(doc)
  t.ok(found.length >= 3, `${found.length} snippets`)
  t.notOk(/^```(js|javascript)$/m.test(doc), 'no untyped JavaScript snippet left')

  // Inside the repository, so that node_modules and the tsconfig paths resolve as for the project's own code.
  const dir = mkdtempSync(join(root, '.snippets-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const [i, { lang, code }] of found.entries()) writeFileSync(join(dir, `spa-md-${i + 1}.${lang}`), `${code}\nexport {}\n`)
  for (const example of EXAMPLES) copyFileSync(join(root, 'docs/examples', example), join(dir, example))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: '../tsconfig.json',
    compilerOptions: {
      noEmit: true,
      // Snippets declare the page's own functions and may leave some unused.
      noUnusedLocals: false,
      lib: ['ES2023', 'DOM', 'DOM.Iterable'],
      jsx: 'react-jsx'
    },
    include: ['*.ts', '*.tsx'],
    exclude: []
  }))

  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const check = await new Promise<{ code: number, output: string }>((resolve) => {
    execFile(process.execPath, [tsc, '-p', dir], { cwd: root, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: stdout + stderr })
    })
  })
  t.equal(check.code, 0, 'tsc passes', { output: check.output.slice(-6000) })
})
