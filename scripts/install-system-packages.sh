#!/usr/bin/env bash
# Installs the real parts the demo and the integration tests drive (Debian 12, as root), listed in
# scripts/system-packages.txt, which README.md shows too: docker-registry (distribution 2.8),
# htpasswd (apache2-utils), skopeo (seeds images with no daemon or network), dockerd (docker.io),
# busybox-static (the seeded images' rootfs), the AWS CLI v2 (independent client for the local AWS
# endpoints and the benchmark baseline), amazon-ecr-credential-helper (the peer of regauth's
# credential helper in the refresh bench), iproute2, and docker-compose 1.29 (Debian 12 has no
# docker compose v2 plugin; the pull tests' stand-in plugin answers `docker compose config
# --images` through it), and sudo (the `sudo -n` install route's test). openssl, curl and util-linux's `script` (which regauth/pull uses to give
# docker pull a terminal) are already on the machine and are left alone.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "run this as root: it installs Debian packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
packages=()
while read -r name condition _; do
  [[ -z $name || $name == \#* ]] && continue
  if [[ ${condition-} == unless:* ]] && command -v "${condition#unless:}" >/dev/null 2>&1; then continue; fi
  packages+=("$name")
done <"$(dirname "$0")/system-packages.txt"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian's node 18 for the node-18 test lane (test/e2e/node18.test.ts), unpacked into the
# repository's .cache/node18, never installed over the system's node.
"$(dirname "$0")/node18.sh" fetch
