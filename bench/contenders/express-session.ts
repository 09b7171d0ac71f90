/**
 * Peer: Express 5 + express-session with its default memory store (a server-side session looked up by the
 * signed id in the cookie). Sessions are created through a real login request, as a browser would.
 */
import express from 'express'
import session from 'express-session'
import type { Server } from 'node:http'
import { announce, benchSecret, sessionCount, userIds } from './serve.js'

declare module 'express-session' {
  interface SessionData { userId: string }
}

const app = express()
app.use(session({ secret: benchSecret(), resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }))
app.post('/login/:userId', (req, res) => {
  req.session.userId = req.params.userId
  res.json({ ok: true })
})
app.get('/me', (req, res) => {
  const userId = req.session.userId
  if (userId === undefined) {
    res.status(401).json({ error: 'no session' })
    return
  }
  res.json({ userId })
})
const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => { resolve(s) }) })
const { port } = server.address() as { port: number }
const sessions = []
for (const userId of userIds(sessionCount())) {
  const response = await fetch(`http://127.0.0.1:${port}/login/${userId}`, { method: 'POST' })
  const setCookie = response.headers.get('set-cookie') ?? ''
  sessions.push({ cookie: setCookie.split(';')[0] as string, userId })
}
announce(server, sessions)
