/**
 * A React hook over the browser client (docs/spa.md): the current session, re-rendered on every change (login,
 * refresh, logout, another tab). test/docs/spa-snippets.test.ts type-checks it.
 */
import { useEffect, useState, useSyncExternalStore } from 'react'
import type { SessionClient, SessionState } from 'fastify-stateless-session/client'

/**
 * `undefined` until the first check with the service has answered, then the session or `null` (logged out).
 * Create the client once for the whole app (module scope or context), not in a component.
 */
export function useSession (client: SessionClient): SessionState | null | undefined {
  const [checked, setChecked] = useState(false)
  // client.state is the same object until the next change, as useSyncExternalStore requires.
  const state = useSyncExternalStore((onChange) => client.on('change', onChange), () => client.state)
  useEffect(() => {
    let mounted = true
    // A network failure leaves the state as it was (null): the page shows the login form.
    client.session().catch(() => null).finally(() => { if (mounted) setChecked(true) })
    return () => { mounted = false }
  }, [client])
  return checked ? state : undefined
}
