/** Real nginx (auth_request) from docs/examples/proxies/nginx.conf in front of the upstream, through curl. */
import { test } from 'tap'
import { checkHardening, checkProxy, startNginx, startServiceAndUpstream } from './proxy-harness.js'

test('nginx auth_request: allowed, refused, role-refused, redirected, spoofing stripped, revoked at once', async (t) => {
  const stack = await startServiceAndUpstream(t)
  await startNginx(t, stack.ports)
  await checkProxy(t, stack)
})

test('nginx: the review findings stay fixed (role paths, access cookie, check endpoints, underscores, login page, loopback, //)', async (t) => {
  const stack = await startServiceAndUpstream(t)
  await startNginx(t, stack.ports)
  await checkHardening(t, stack)
})
