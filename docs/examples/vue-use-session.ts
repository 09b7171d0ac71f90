/**
 * A Vue composable over the browser client (docs/spa.md): the current session as a read-only ref, updated on
 * every change (login, refresh, logout, another tab). test/docs/spa-snippets.test.ts type-checks it.
 */
import { computed, onScopeDispose, shallowRef, type ComputedRef } from 'vue'
import type { SessionClient, SessionState } from 'fastify-stateless-session/client'

export interface UseSession {
  /** The session, or null when logged out. */
  state: ComputedRef<SessionState | null>
  /** False until the first check with the service has answered. */
  checked: ComputedRef<boolean>
}

/** Call it in `setup()` (or any effect scope); it stops listening when the scope ends. */
export function useSession (client: SessionClient): UseSession {
  const state = shallowRef<SessionState | null>(client.state)
  const checked = shallowRef(false)
  onScopeDispose(client.on('change', (next) => { state.value = next }))
  // A network failure leaves the state as it was (null): the page shows the login form.
  client.session().catch(() => null).finally(() => { checked.value = true })
  return { state: computed(() => state.value), checked: computed(() => checked.value) }
}
