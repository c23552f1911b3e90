regauth_fail() { printf 'regauth: %s\n' "$1" >&2; exit 1; }
regauth_images='use cimg/node, cimg/aws, a cimg/*-node image or a machine executor (ubuntu-2204, ubuntu-2404)'
command -v node >/dev/null 2>&1 || regauth_fail "node was not found on PATH; regauth needs node >= $regauth_min_node: $regauth_images"
command -v docker >/dev/null 2>&1 ||
  regauth_fail 'the docker CLI was not found on PATH: use a machine executor, or an image with the docker CLI (and setup_remote_docker)'
printf '%s' "$regauth_payload" | node -e '
const [min, sum, images] = process.argv.slice(1);
const fail = (why) => { process.stderr.write(`regauth: ${why}\n`); process.exit(1); };
if (+process.versions.node.split(".")[0] < +min) fail(`node ${process.version} is too old; regauth needs node >= ${min}: ${images}`);
let s = "";
try { s = require("zlib").brotliDecompressSync(Buffer.from(require("fs").readFileSync(0, "latin1"), "base64")).toString(); } catch {}
if (require("crypto").createHash("sha256").update(s).digest("hex") !== sum) fail(`the payload is damaged: its sha256 is not ${sum}`);
globalThis.regauthBundleSource = s;
require("vm").runInThisContext(`(function(exports,require,module){${s}\n})`, { filename: "regauth.js" })(exports, require, module);
' "$regauth_min_node" "$regauth_sha256" "$regauth_images"
