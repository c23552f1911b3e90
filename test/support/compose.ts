import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A STAND-IN for the docker compose v2 CLI plugin, named as such: Debian 12 packages only
 * docker-compose 1.29 (no `docker compose` plugin, no `config --images`), and nothing may be
 * downloaded. The stand-in answers exactly `docker compose --file=F… config --images` by
 * running the real docker-compose 1.29 (`docker-compose -f F… config`: compose itself resolves
 * variables, defaults and overrides) and printing each service's resolved `image:`. It is
 * installed where the docker CLI looks for plugins: `$DOCKER_CONFIG/cli-plugins`.
 */
const STAND_IN = `#!/bin/bash
set -euo pipefail
if [ "\${1:-}" = docker-cli-plugin-metadata ]; then
  printf '%s\\n' '{"SchemaVersion":"0.1.0","Vendor":"regauth tests","Version":"v2.0.0-standin","ShortDescription":"config --images over docker-compose 1.29"}'
  exit 0
fi
[ "\${1:-}" = compose ] && shift
files=()
images=0
while [ $# -gt 0 ]; do
  case "$1" in
    --file=*) files+=(-f "\${1#--file=}") ;;
    -f|--file) files+=(-f "$2"); shift ;;
    config) ;;
    --images) images=1 ;;
    *) echo "compose stand-in: unsupported argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$images" = 1 ] || { echo "compose stand-in: only config --images is supported" >&2; exit 2; }
docker-compose "\${files[@]}" config | awk '/^    image: / { sub(/^    image: /, ""); gsub(/["\\047]/, ""); print }'
`;

/** Installs the stand-in plugin into `dockerConfigDir/cli-plugins`. */
export function installComposeStandIn(dockerConfigDir: string): void {
  const dir = join(dockerConfigDir, 'cli-plugins');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'docker-compose');
  writeFileSync(file, STAND_IN);
  chmodSync(file, 0o755);
}
