/** The ceiling: a bare Fastify 5 route that reads nothing and answers the same JSON shape. */
import Fastify from 'fastify'
import { announce, sessionCount } from './serve.js'

const app = Fastify({ logger: false })
app.get('/me', async () => ({ userId: 'anonymous' }))
await app.listen({ host: '127.0.0.1', port: 0 })
// The same Cookie header size as our access cookie (`__Host-session=` and its token: up to 738 bytes), so
// the requests differ only in what the server does with them: on two cores the load generator can be the limit,
// and a shorter cookie would make its work per request smaller for this row alone. bench/run.ts refuses a run
// where the two differ by more than 16 bytes.
const filler = 'x'.repeat(731)
announce(app.server, Array.from({ length: sessionCount() }, () => ({ cookie: `unused=${filler}`, userId: 'anonymous' })))
