#!/usr/bin/env bash
# Debian 12's node 18 for the node-18 test lane (issue 24), without touching the system's node.
#
#   scripts/node18.sh fetch            downloads nodejs 18 and what it needs that the system lacks
#                                      (apt-get download: Debian's own archive only) and unpacks them
#                                      with dpkg-deb -x into .cache/node18/root
#   scripts/node18.sh exec CMD ARGS…   runs CMD in a private mount namespace (unshare -m) where
#                                      /usr/share and /usr/lib/<triplet> are overlaid with that tree
#                                      (Debian's node 18 loads undici, acorn and cjs-module-lexer
#                                      from /usr/share/nodejs, libnode.so.108 from /usr/lib), with
#                                      REGAUTH_NODE18=<its node binary> in the environment; every
#                                      child sees the same mounts, so a node 18 found through
#                                      process.execPath later (the credential helper) works too
#   scripts/node18.sh version          prints the node 18 version (through exec)
#
# Needs root (mounts) and apt. Nothing is installed: the tree lives under the repository's .cache.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${REGAUTH_NODE18_HOME:-$repo/.cache/node18}
root=$home/root
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")

die() { printf 'node18: %s\n' "$1" >&2; exit 1; }

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }

depends_of() {
  apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$1" |
    awk '$1 == "Depends:" && $2 !~ /^</ { print $2 }'
}

fetch() {
  command -v apt-get >/dev/null || die 'apt-get is missing: the node 18 lane needs Debian 12 (bookworm) packages'
  local version
  version=$(apt-cache madison nodejs | awk -F'|' '{ gsub(/ /, "", $2) } $2 ~ /^18\./ { print $2; exit }')
  [[ -n $version ]] || die 'no nodejs 18 in the configured Debian archive (bookworm or bookworm-security); run apt-get update'
  if [[ -x $root/usr/bin/node && -f $home/version && $(cat "$home/version") == "$version" ]]; then
    echo "node18: nodejs $version already unpacked in $root"
    return
  fi
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/regauth-node18-XXXXXX")
  trap 'rm -rf "$work"' RETURN
  # nodejs, then what it and its not-yet-installed dependencies need, two levels down (libnode108
  # and its node-* modules); installed libraries are used from the system.
  local -a queue=("nodejs=$version") wanted=()
  local -A seen=()
  local depth item name dep
  for depth in 1 2 3; do
    local -a next=()
    for item in "${queue[@]}"; do
      name=${item%%=*}
      [[ -n ${seen[$name]:-} ]] && continue
      seen[$name]=1
      wanted+=("$item")
      for dep in $(depends_of "$item"); do
        [[ -n ${seen[$dep]:-} ]] || installed "$dep" || next+=("$dep")
      done
    done
    queue=("${next[@]}")
    [[ ${#queue[@]} -eq 0 ]] && break
  done
  (cd "$work" && apt-get download -q "${wanted[@]}" >/dev/null) || die "apt-get download ${wanted[*]} failed"
  rm -rf "$root"
  mkdir -p "$root"
  local deb
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  printf '%s\n' "$version" >"$home/version"
  printf '%s\n' "${wanted[@]}" >"$home/packages"
  echo "node18: unpacked ${wanted[*]} into $root"
}

run_in_namespace() {
  [[ -x $root/usr/bin/node ]] || die "no node 18 in $root: run scripts/node18.sh fetch first"
  [[ $(id -u) -eq 0 ]] || die 'the private mount namespace needs root'
  # Read-only overlays (two lower layers, no upper): the private tree wins over the system's.
  exec unshare -m --propagation private -- /bin/bash -c '
    set -e
    root=$1 triplet=$2; shift 2
    mount -t overlay regauth-node18-share -o "lowerdir=$root/usr/share:/usr/share" /usr/share
    if [[ -d $root/usr/lib/$triplet ]]; then
      mount -t overlay regauth-node18-lib -o "lowerdir=$root/usr/lib/$triplet:/usr/lib/$triplet" "/usr/lib/$triplet"
    fi
    export REGAUTH_NODE18="$root/usr/bin/node"
    exec "$@"' regauth-node18 "$root" "$triplet" "$@"
}

case ${1:-} in
  fetch) fetch ;;
  exec)
    shift
    [[ $# -gt 0 ]] || die 'usage: scripts/node18.sh exec CMD [ARGS…]'
    run_in_namespace "$@"
    ;;
  version) run_in_namespace "$root/usr/bin/node" --version ;;
  *) die 'usage: scripts/node18.sh fetch | exec CMD [ARGS…] | version' ;;
esac
