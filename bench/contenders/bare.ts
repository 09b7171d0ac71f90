/** The ceiling: a bare Fastify 5 route that reads nothing and answers the same JSON shape. */
import Fastify from 'fastify'
import { announce, sessionCount } from './serve.js'

const app = Fastify({ logger: false })
app.get('/me', async () => ({ userId: 'anonymous' }))
await app.listen({ host: '127.0.0.1', port: 0 })
// Same Cookie header size as our access cookie (about 400 bytes), so the requests differ only in what the
// server does with them.
const filler = 'x'.repeat(400)
announce(app.server, Array.from({ length: sessionCount() }, () => ({ cookie: `unused=${filler}`, userId: 'anonymous' })))
