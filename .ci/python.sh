#!/usr/bin/env bash
# A fragment for .ci/run, to run BEFORE `npm test`: installs Debian's PyJWT and cryptography when
# /usr/bin/python3 cannot import them (CI runs as root), since test/docs/python-snippet.test.ts runs
# docs/upstreams.md's Python verifier with them and fails, never skips, without them.
set -euo pipefail
if ! /usr/bin/python3 -c 'import jwt, cryptography' >/dev/null 2>&1; then
  echo "python: PyJWT or cryptography missing for /usr/bin/python3, installing from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3-jwt python3-cryptography >/dev/null
fi
echo "python: $(/usr/bin/python3 -c 'import jwt, cryptography; print("PyJWT", jwt.__version__, "cryptography", cryptography.__version__)')"
