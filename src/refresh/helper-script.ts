/**
 * The installed `docker-credential-regauth`: bash that answers from the cache with builtins only
 * (no node, no fork) while an entry is fresh, and otherwise runs regauth's refresh code with the
 * node that ran the login. The script names no job: it finds its directory through $HOME, so
 * every job on a machine can share one installed copy; it answers only the job that logged in
 * (the journal's job id, src/core/journal.ts `jobId`, derived from the same variables).
 *
 * Every name, pattern and answer the script shares with the TypeScript that writes the files it
 * reads is taken from that TypeScript here, never typed twice (test/unit/refresh/helper-script.test.ts).
 */
import { HELPER_FLAG } from './bundle-source.ts';
import { AWS_ENTRY_PREFIX } from './cache.ts';
import { NOT_FOUND } from './docker-protocol.ts';
import { HELPER_FILES, HELPER_HOME_PATH } from './files.ts';
import { GROUP, HOST } from './recipe.ts';
import { JOB_ID } from '../core/journal.ts';

export const HELPER_NAME = 'docker-credential-regauth';
export const HELPER_MARKER = '# regauth credential helper';

/** The values the script is built from, as the TypeScript side defines them. */
export const SCRIPT_CONSTANTS = {
  home: HELPER_HOME_PATH,
  files: HELPER_FILES,
  awsEntryPrefix: AWS_ENTRY_PREFIX,
  notFound: NOT_FOUND,
  helperFlag: HELPER_FLAG,
  group: GROUP.source,
  host: HOST.source,
  jobId: JOB_ID.source,
} as const;

export function helperScript(): string {
  const { home, files, awsEntryPrefix, notFound, helperFlag, group: groupPattern, host: hostPattern, jobId: jobPattern } = SCRIPT_CONSTANTS;
  return `#!/bin/bash
${HELPER_MARKER}: docker's credential helper for the registries regauth logged in to, and the
# AWS credential_process of its exported profile. Written by regauth; regauth/logout removes it.
dir="\${HOME:-/nonexistent}/${home}"
now=\${EPOCHSECONDS:-$(date +%s)}
job=\${CIRCLE_WORKFLOW_JOB_ID:-\${CIRCLE_BUILD_NUM-}}
job=\${job#"\${job%%[![:space:]]*}"}
job=\${job%"\${job##*[![:space:]]}"}
[[ $job =~ ${jobPattern} ]] || job=
ours() {
  local owner f="$dir/${files.job}"
  [[ -f $f && ! -L $f && -O $f ]] || return 1
  IFS= read -r owner <"$f" || return 1
  [[ $owner == "$job" ]]
}
foreign() {
  printf 'regauth: the credential helper was set up by another CircleCI job that ended without regauth/logout; nothing for %s\\n' "$1" >&2
  printf '${notFound}\\n'
  exit 1
}
fresh() {
  local f="$dir/${files.cache}/$1" at
  answer=
  [[ -f $f && ! -L $f && -O $f ]] || return 1
  { IFS= read -r at && IFS= read -r answer; } <"$f" || return 1
  [[ $at =~ ^[0-9]+$ ]] && ((at > now))
}
cached() {
  fresh "$1" && printf '%s\\n' "$answer"
}
refresh() {
  local node kind="$1"
  shift
  [[ -f $dir/${files.node} && ! -L $dir/${files.node} && -O $dir/${files.node} ]] && IFS= read -r node <"$dir/${files.node}"
  local bundle="$dir/${files.bundles}/$kind${files.bundleExtension}"
  if [[ -z $node || ! -x $node || ! -f $bundle || -L $bundle || ! -O $bundle ]]; then
    printf 'regauth: the credential helper cannot refresh: %s is missing (regauth/logout may have run)\\n' "$bundle" >&2
    printf '${notFound}\\n'
    exit 1
  fi
  exec "$node" "$bundle" ${helperFlag} "$@"
}
any_kind() {
  local b
  for b in "$dir"/${files.bundles}/*${files.bundleExtension}; do
    [[ -f $b ]] && { b=\${b##*/}; printf '%s' "\${b%${files.bundleExtension}}"; return 0; }
  done
  printf 'none'
}
case "\${1-}" in
get)
  IFS= read -r server || true
  host=\${server#*://}
  host=\${host%%/*}
  [[ $host =~ ${hostPattern} ]] || { printf '${notFound}\\n'; exit 1; }
  ours || foreign "$host"
  cached "$host" && exit 0
  group=
  [[ -f $dir/${files.routes}/$host && ! -L $dir/${files.routes}/$host ]] && IFS= read -r group <"$dir/${files.routes}/$host"
  [[ $group =~ ${groupPattern} ]] || { printf '${notFound}\\n'; exit 1; }
  refresh "\${group%-*}" get "$host"
  ;;
aws-credentials)
  group=\${2-}
  [[ $group =~ ${groupPattern} ]] || { printf 'regauth: %s is not a regauth group\\n' "$group" >&2; exit 1; }
  ours || foreign 'the exported AWS profile'
  cached "${awsEntryPrefix}$group" && exit 0
  refresh "\${group%-*}" aws-credentials "$group"
  ;;
google-executable)
  group=\${2-}
  if [[ $group =~ ${groupPattern} ]]; then refresh "\${group%-*}" "$@"; fi
  refresh "$(any_kind)" "$@"
  ;;
store)
  # docker login right after regauth's own (refresh on, through the docker CLI) stores the very
  # answer the cache holds for a host regauth serves: nothing to change, so no node start.
  IFS= read -r -d '' given || true
  given=\${given%$'\\n'}
  host=
  store_re='^[{]"ServerURL":"([^"]*)"'
  [[ $given =~ $store_re ]] && host=\${BASH_REMATCH[1]}
  if [[ $host =~ ${hostPattern} ]] && ours && [[ -f $dir/${files.routes}/$host && ! -L $dir/${files.routes}/$host && -O $dir/${files.routes}/$host ]] &&
    fresh "$host" && [[ $answer == "$given" ]]; then
    exit 0
  fi
  printf '%s\\n' "$given" | refresh "$(any_kind)" "$@"
  ;;
*)
  refresh "$(any_kind)" "$@"
  ;;
esac
`;
}
