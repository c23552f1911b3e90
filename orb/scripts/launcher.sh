# The rest of this step is regauth's launcher. It needs bash, node and the docker CLI, and
# nothing else: the compiled helper is carried above as brotli-compressed base64 and handed to
# node on stdin, so no file is written and no argument or environment string nears 128 KiB.
regauth_fail() {
  printf 'regauth: %s\n' "$1" >&2
  exit 1
}
command -v node >/dev/null 2>&1 ||
  regauth_fail "node was not found on PATH; regauth needs node >= ${REGAUTH_MIN_NODE} and the docker CLI: use a machine executor (ubuntu-2204 images have both) or a cimg/*-node image"
regauth_node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) ||
  regauth_fail "node on PATH does not run; regauth needs node >= ${REGAUTH_MIN_NODE}"
if [ "${regauth_node_major}" -lt "${REGAUTH_MIN_NODE}" ] 2>/dev/null; then
  regauth_fail "node $(node --version) is too old; regauth needs node >= ${REGAUTH_MIN_NODE}: use a machine executor or a newer cimg/*-node image"
fi
if [ "${REGAUTH_NEEDS_DOCKER}" = 1 ] && ! command -v docker >/dev/null 2>&1; then
  regauth_fail "the docker CLI was not found on PATH: use a machine executor, or an image with the docker CLI (and setup_remote_docker)"
fi
printf '%s' "${REGAUTH_BUNDLE}" | node -e 'const{brotliDecompressSync:d}=require("zlib"),v=require("vm");const c=[];process.stdin.on("data",b=>c.push(b)).on("end",()=>{const s=d(Buffer.from(Buffer.concat(c).toString(),"base64")).toString();const m={exports:{}};v.runInThisContext("(function(exports,require,module,__filename,__dirname){"+s+"\n})",{filename:"regauth.js"})(m.exports,require,m,"regauth.js","/")})'
