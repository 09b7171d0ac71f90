/**
 * The layers of src/, enforced in `npm test` (`npm run lint:layers`). Lower to higher:
 *   common -> tokens -> stores -> session, users -> wire -> http -> service
 * A module imports only from its own layer or lower ones; `client/` is browser code apart from them all,
 * taking only types from `wire/`. The entry points at the root of src/ are imported by nothing inside it.
 */
const higher = (layers) => `^src/(${layers.join('|')})/`

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'no import cycles', severity: 'error', from: {}, to: { circular: true } },
    { name: 'common-is-the-base', severity: 'error', from: { path: '^src/common/' }, to: { path: '^src/(?!common/)' } },
    { name: 'tokens-below-stores', severity: 'error', from: { path: '^src/tokens/' }, to: { path: higher(['stores', 'session', 'users', 'wire', 'http', 'service', 'client']) } },
    {
      name: 'tokens-without-fastify',
      comment: 'the token layer knows nothing of HTTP; only jws.ts signs through @fastify/jwt',
      severity: 'error',
      from: { path: '^src/tokens/', pathNot: '^src/tokens/jws\\.ts$' },
      to: { path: '(^|/)node_modules/(fastify|@fastify/[^/]+|fastify-plugin)/' }
    },
    { name: 'stores-below-session-and-users', severity: 'error', from: { path: '^src/stores/' }, to: { path: higher(['session', 'users', 'wire', 'http', 'service', 'client']) } },
    { name: 'session-below-http', severity: 'error', from: { path: '^src/session/' }, to: { path: higher(['users', 'wire', 'http', 'service', 'client']) } },
    { name: 'users-below-http', severity: 'error', from: { path: '^src/users/' }, to: { path: higher(['session', 'wire', 'http', 'service', 'client']) } },
    { name: 'wire-below-http', severity: 'error', from: { path: '^src/wire/' }, to: { path: higher(['stores', 'session', 'http', 'service', 'client']) } },
    { name: 'http-below-service', severity: 'error', from: { path: '^src/http/' }, to: { path: higher(['service', 'client']) } },
    {
      name: 'client-is-browser-code',
      comment: 'the browser client imports only itself and, as types, the wire shapes',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { pathNot: '^src/(client|wire)/' }
    },
    { name: 'client-takes-only-types-from-wire', severity: 'error', from: { path: '^src/client/' }, to: { path: '^src/wire/', dependencyTypesNot: ['type-only'] } },
    {
      name: 'demo-page-is-browser-code',
      severity: 'error',
      from: { path: '^src/service/demo/page/' },
      to: { pathNot: '^src/(client|wire|service/demo/page)/' }
    },
    {
      name: 'entry-points-are-for-users',
      comment: 'src/index.ts, sqlite.ts, redis.ts, passwords.ts and service.ts are the package\'s doors, not modules of its own',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+\\.ts$' }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: false
  }
}
