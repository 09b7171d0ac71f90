/**
 * A consumer's browser code, type-checked against the packed package by test/package/consumer.test.ts with a
 * bundler's resolution, the DOM library and no Node.js types (the client must not need them).
 */
import { SessionClientError, createSessionClient, type SessionClient, type LiveSession, type LogoutReason, type SessionState } from 'fastify-stateless-session/client'

type IsAny<T> = 0 extends (1 & T) ? true : false

type NotAny<T extends false> = T
export type Typed = [NotAny<IsAny<SessionClient['state']>>, NotAny<IsAny<ReturnType<SessionClient['login']>>>]

const session = createSessionClient({ baseUrl: 'https://api.example.com' })

export const stop = session.on('change', (state: SessionState | null) => { document.title = state?.user.username ?? 'signed out' })
session.on('logout', ({ reason }: { reason: LogoutReason }) => { console.log(reason) })
// @ts-expect-error there is no such event
session.on('login', () => {})

export async function signIn (username: string, password: string): Promise<string | null> {
  try {
    const state = await session.login(username, password)
    const sessions: LiveSession[] = await session.listSessions()
    return `${state.user.username} (${sessions.length} sessions)`
  } catch (error) {
    if (error instanceof SessionClientError && error.code === 'ERR_INVALID_CREDENTIALS') return null
    throw error
  }
}
