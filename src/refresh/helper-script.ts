/**
 * The installed `docker-credential-regauth`: bash that answers from the cache with builtins only
 * (no node, no fork) while an entry is fresh, and otherwise runs regauth's refresh code with the
 * node that ran the login. The script names no job: it finds its directory through $HOME, so
 * every job on a machine can share one installed copy; it answers only the job that logged in
 * (the journal's job id, src/core/journal.ts `jobId`, derived from the same variables).
 */
export const HELPER_NAME = 'docker-credential-regauth';
export const HELPER_MARKER = '# regauth credential helper';

export function helperScript(): string {
  return `#!/bin/bash
${HELPER_MARKER}: docker's credential helper for the registries regauth logged in to, and the
# AWS credential_process of its exported profile. Written by regauth; regauth/logout removes it.
dir="\${HOME:-/nonexistent}/.regauth/helper"
now=\${EPOCHSECONDS:-$(date +%s)}
job=\${CIRCLE_WORKFLOW_JOB_ID:-\${CIRCLE_BUILD_NUM-}}
job=\${job#"\${job%%[![:space:]]*}"}
job=\${job%"\${job##*[![:space:]]}"}
[[ $job =~ ^[A-Za-z0-9-]{1,64}$ ]] || job=
ours() {
  local owner
  [[ -f $dir/job && ! -L $dir/job && -O $dir/job ]] || return 1
  IFS= read -r owner <"$dir/job" || return 1
  [[ $owner == "$job" ]]
}
foreign() {
  printf 'regauth: the credential helper was set up by another CircleCI job that ended without regauth/logout; nothing for %s\\n' "$1" >&2
  printf 'credentials not found in native keychain\\n'
  exit 1
}
cached() {
  local f="$dir/cache/$1" at answer
  [[ -f $f && ! -L $f && -O $f ]] || return 1
  { IFS= read -r at && IFS= read -r answer; } <"$f" || return 1
  [[ $at =~ ^[0-9]+$ ]] && ((at > now)) || return 1
  printf '%s\\n' "$answer"
}
refresh() {
  local node kind="$1"
  shift
  [[ -f $dir/node && ! -L $dir/node && -O $dir/node ]] && IFS= read -r node <"$dir/node"
  local bundle="$dir/bundles/$kind.cjs"
  if [[ -z $node || ! -x $node || ! -f $bundle || -L $bundle || ! -O $bundle ]]; then
    printf 'regauth: the credential helper cannot refresh: %s is missing (regauth/logout may have run)\\n' "$bundle" >&2
    printf 'credentials not found in native keychain\\n'
    exit 1
  fi
  exec "$node" "$bundle" --regauth-helper "$@"
}
any_kind() {
  local b
  for b in "$dir"/bundles/*.cjs; do
    [[ -f $b ]] && { b=\${b##*/}; printf '%s' "\${b%.cjs}"; return 0; }
  done
  printf 'none'
}
case "\${1-}" in
get)
  IFS= read -r server || true
  host=\${server#*://}
  host=\${host%%/*}
  [[ $host =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] || { printf 'credentials not found in native keychain\\n'; exit 1; }
  ours || foreign "$host"
  cached "$host" && exit 0
  group=
  [[ -f $dir/routes/$host && ! -L $dir/routes/$host ]] && IFS= read -r group <"$dir/routes/$host"
  [[ $group =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)+$ ]] || { printf 'credentials not found in native keychain\\n'; exit 1; }
  refresh "\${group%-*}" get "$host"
  ;;
aws-credentials)
  group=\${2-}
  [[ $group =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)+$ ]] || { printf 'regauth: %s is not a regauth group\\n' "$group" >&2; exit 1; }
  ours || foreign 'the exported AWS profile'
  cached "aws@$group" && exit 0
  refresh "\${group%-*}" aws-credentials "$group"
  ;;
google-executable)
  group=\${2-}
  if [[ $group =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)+$ ]]; then refresh "\${group%-*}" "$@"; fi
  refresh "$(any_kind)" "$@"
  ;;
*)
  refresh "$(any_kind)" "$@"
  ;;
esac
`;
}
