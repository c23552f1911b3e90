# The rest of this step is regauth's launcher. It needs bash, node and the docker CLI, and
# nothing else: the compiled helper is carried above as brotli-compressed base64 and handed to
# node on stdin, so no file is written and no argument or environment string nears 128 KiB.
regauth_fail() {
  printf 'regauth: %s\n' "$1" >&2
  exit 1
}
command -v node >/dev/null 2>&1 ||
  regauth_fail "node was not found on PATH; regauth needs node >= ${REGAUTH_MIN_NODE} and the docker CLI: use a machine executor (ubuntu-2204 images have both) or a cimg/*-node image"
command -v docker >/dev/null 2>&1 ||
  regauth_fail "the docker CLI was not found on PATH: use a machine executor, or an image with the docker CLI (and setup_remote_docker)"
# The loader checks node's version itself: one node process per step, not two. It leaves the
# bundle's text in globalThis.regauthBundleSource for commands whose credential helper runs it later.
printf '%s' "${REGAUTH_BUNDLE}" | REGAUTH_MIN_NODE="${REGAUTH_MIN_NODE}" node -e 'const n=+process.env.REGAUTH_MIN_NODE;if(+process.versions.node.split(".")[0]<n){process.stderr.write("regauth: node "+process.version+" is too old; regauth needs node >= "+n+": use a machine executor or a newer cimg/*-node image\n");process.exit(1)}const{brotliDecompressSync:d}=require("zlib"),v=require("vm");const c=[];process.stdin.on("data",b=>c.push(b)).on("end",()=>{const s=d(Buffer.from(Buffer.concat(c).toString(),"base64")).toString();globalThis.regauthBundleSource=s;const m={exports:{}};v.runInThisContext("(function(exports,require,module,__filename,__dirname){"+s+"\n})",{filename:"regauth.js"})(m.exports,require,m,"regauth.js","/")})'
