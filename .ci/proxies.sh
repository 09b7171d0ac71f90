#!/usr/bin/env bash
# A fragment for .ci/run, to run BEFORE `npm test`: installs Debian's nginx and caddy when missing (CI runs as
# root), since test/proxies/*.test.ts run them for real (forward-auth through nginx auth_request and Caddy
# forward_auth) and fail, never skip, without them.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "proxies: ${missing[*]} missing, installing from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the tests run their own instances on free ports.
  systemctl disable --now nginx caddy >/dev/null 2>&1 || true
fi
echo "proxies: $(nginx -v 2>&1), caddy $(caddy version 2>/dev/null | head -n 1)"
