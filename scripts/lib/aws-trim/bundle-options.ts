import type { PluginBuild, Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * esbuild settings that keep the AWS layer small without changing what runs. Every entry
 * replaces SDK code that provably never runs for regauth's three operations (STS
 * AssumeRoleWithWebIdentity unsigned; ECR and ECR Public GetAuthorizationToken with explicit
 * credentials) on node ≥ 18 outside Lambda; the SDK still signs, serialises and resolves
 * endpoints. test/tooling/build/bundle-size.test.ts runs the bundled AWS layer and its source side by
 * side against the local stack (results, error classes, endpoint hosts) and holds the sizes.
 * Spread into the build: `{ ...awsBundleOptions, entryPoints, ... }`.
 */
const stub = (name: string): string => fileURLToPath(new URL(`./stubs/${name}.ts`, import.meta.url));

/**
 * Errors each client keeps in its error registry: the ones its (only) regauth operation
 * models, plus the service base exception. Any other code still becomes the service's base
 * exception named by the wire code (ProtocolLib.getErrorSchemaOrThrowBaseException), with the
 * same message, status and, for STS, the same `Code`: classifyAwsError sees the same thing.
 */
export const MODELLED_ERRORS: Readonly<Record<string, readonly string[]>> = {
  'client-sts': ['ExpiredTokenException', 'IDPCommunicationErrorException', 'IDPRejectedClaimException', 'InvalidIdentityTokenException', 'MalformedPolicyDocumentException', 'PackedPolicyTooLargeException', 'RegionDisabledException'],
  'client-ecr': ['InvalidParameterException', 'ServerException'],
  'client-ecr-public': ['InvalidParameterException', 'ServerException', 'UnsupportedCommandException'],
};

/** One modelled error: its schema (`export var X$ = [-3, …];`) and its registration right after. */
const ERROR_BLOCK = /^export var (\w+)\$ = \[-3,(?:(?!\nexport )[\s\S])*?\n\];\n(\w+)_registry\.registerError\(\1\$, \1\);\n/gm;

/** schemas_0.js without the schema and registration of each unkept error; esbuild then drops their classes. */
export function pruneErrorRegistrations(source: string, keep: readonly string[], file: string): string {
  const kept = new Set<string>();
  const removed: string[] = [];
  const pruned = source.replace(ERROR_BLOCK, (block: string, name: string, registry: string) => {
    // The service base exception (registry `_s`) is a one-line schema this never matches.
    if (registry === '_s' || keep.includes(name)) {
      kept.add(name);
      return block;
    }
    removed.push(name);
    return '';
  });
  // A changed SDK layout must fail the build, not silently drop a modelled error or leave a dangling reference.
  const missing = keep.filter((name) => !kept.has(name));
  if (missing.length > 0) throw new Error(`${file}: no schema and registerError for ${missing.join(', ')}; update MODELLED_ERRORS in scripts/lib/aws-trim/bundle-options.ts`);
  const dangling = removed.filter((name) => new RegExp(`\\b${name}\\$`).test(pruned));
  if (dangling.length > 0) throw new Error(`${file}: ${dangling.join(', ')} still referenced after pruning`);
  return pruned;
}

type PartitionsInfo = { partitions: { regions: Record<string, Record<string, unknown>> }[] };

/**
 * The AWS partitions table, smaller: without each region's `description` ("US East (N.
 * Virginia)"), which partition() spreads into its result but no endpoint rule set reads; and
 * without region entries that partition() resolves the same way through the partitions'
 * regionRegex. The SDK's own partition() is the judge: every region the table lists must map
 * to the same partition as before, else the entry stays. Names it does not list are looked
 * up exactly as before (only listed names ever hit an entry).
 */
export async function trimPartitions(source: string, file: string): Promise<string> {
  const match = /^export const partitionsInfo = ([\s\S]*);\s*$/.exec(source);
  if (!match?.[1]) throw new Error(`${file}: not \`export const partitionsInfo = {…};\``);
  const info = JSON.parse(match[1]) as PartitionsInfo;
  for (const partition of info.partitions) {
    for (const region of Object.values(partition.regions)) delete region.description;
  }
  const { partition, setPartitionInfo, useDefaultPartitionInfo } = await import('@aws-sdk/core/client');
  const lookup = (table: PartitionsInfo, region: string): string => {
    setPartitionInfo(table as unknown as Parameters<typeof setPartitionInfo>[0]);
    return JSON.stringify(partition(region));
  };
  // Synchronous from here to the restore: no other code sees a tentative table.
  try {
    const names = info.partitions.flatMap((p) => Object.keys(p.regions));
    const expected = new Map(names.map((name) => [name, lookup(info, name)]));
    const same = (table: PartitionsInfo): boolean => names.every((name) => lookup(table, name) === expected.get(name));
    const trimmed = JSON.parse(JSON.stringify(info)) as PartitionsInfo;
    for (const p of trimmed.partitions) {
      for (const [name, entry] of Object.entries(p.regions)) {
        delete p.regions[name];
        if (!same(trimmed)) p.regions[name] = entry;
      }
    }
    if (!same(trimmed)) throw new Error(`${file}: trimming changed partition()`);
    return `export const partitionsInfo = ${JSON.stringify(trimmed)};\n`;
  } finally {
    useDefaultPartitionInfo();
  }
}

/** A relative import inside one SDK file, replaced by a stub (esbuild's alias only sees package names). */
interface RelativeStub {
  importer: RegExp;
  path: string;
  stub: string;
  /** The client whose bundle must use this stub; any AWS bundle when absent. */
  client?: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `file` under `pkg`'s dist-es, with either path separator. */
const inPackage = (pkg: string, file: string): RegExp => new RegExp(`[\\\\/]${escapeRegExp(`${pkg}/dist-es/${file}`).replace(/\//g, '[\\\\/]')}$`);

const RELATIVE_STUBS: readonly RelativeStub[] = [
  // Sha256Node falls back to the pure-JS hash only when node:crypto has no sha256.
  { importer: inPackage('@smithy/core', 'submodules/checksum/sha256/Sha256Node.js'), path: './Sha256Js', stub: stub('sha256-js') },
  // Built only for retryMode "adaptive"; src/clouds/aws/sdk.ts fixes "standard" for every client.
  { importer: inPackage('@smithy/core', 'submodules/retry/middleware-retry/configurations.js'), path: '../util-retry/AdaptiveRetryStrategy', stub: stub('adaptive-retry-strategy') },
  // SignatureV4 formats event-stream headers only in signMessage (no event streams here).
  { importer: inPackage('@smithy/signature-v4', 'SignatureV4.js'), path: './HeaderFormatter', stub: stub('header-formatter') },
  // Bucket-name handling, called only when the client's serviceId is S3.
  { importer: inPackage('@smithy/core', 'submodules/endpoints/middleware-endpoint/adaptors/getEndpointFromInstructions.js'), path: '../service-customizations', stub: stub('s3-endpoint-params') },
  // Endpoint rule functions that no bundled rule set calls (checked below, per rule set).
  ...['coalesce', 'ite', 'not', 'parseURL', 'split', 'substring', 'uriEncode'].map((name) => ({
    importer: inPackage('@smithy/core', 'submodules/endpoints/util-endpoints/lib/index.js'),
    path: `./${name}`,
    stub: stub('endpoint-functions'),
  })),
  ...['isVirtualHostableS3Bucket', 'parseArn'].map((name) => ({
    importer: inPackage('@aws-sdk/core', 'submodules/client/util-endpoints/aws.js'),
    path: `./lib/aws/${name}`,
    stub: stub('endpoint-functions'),
  })),
  // Defaults mode and the region fallback: never evaluated, every client gets region, requestHandler and retryMode.
  { importer: inPackage('@smithy/core', 'submodules/config/index.js'), path: './defaults-mode/resolveDefaultsModeConfig', stub: stub('defaults-mode') },
  { importer: inPackage('@smithy/core', 'submodules/client/index.js'), path: './smithy-client/defaults-mode', stub: stub('defaults-mode') },
  { importer: inPackage('@smithy/core', 'submodules/config/config-resolver/regionConfig/config.js'), path: './getInstanceMetadataRegion', stub: stub('instance-metadata-region') },
  // The logger middleware: regauth's clients have no logger (the SDK's NoOpLogger), it does nothing.
  { importer: inPackage('@aws-sdk/core', 'submodules/client/index.js'), path: './middleware-logger/loggerMiddleware', stub: stub('logger-middleware') },
  // STS's SigV4a signer: see the signature-v4-multi-region alias below.
  { importer: inPackage('@aws-sdk/core', 'submodules/httpAuthSchemes/aws_sdk/index.js'), path: './AwsSdkSigV4ASigner', stub: stub('sigv4a-signer'), client: 'client-sts' },
];

/** Rule-set function names (as rule sets spell them) that the stubs above replace. */
export const UNBUNDLED_ENDPOINT_FUNCTIONS = ['coalesce', 'ite', 'not', 'parseURL', 'split', 'substring', 'uriEncode', 'aws.isVirtualHostableS3Bucket', 'aws.parseArn'];

/** Fails when a client's endpoint rule set (bdd.js or ruleset.js) calls a stubbed function. */
export function checkRuleSet(source: string, file: string): string {
  const used = UNBUNDLED_ENDPOINT_FUNCTIONS.filter((name) => source.includes(`"${name}"`));
  if (used.length > 0) throw new Error(`${file}: the endpoint rule set calls ${used.join(', ')}, stubbed in scripts/lib/aws-trim/bundle-options.ts`);
  return source;
}

const RELATIVE_STUB_PATHS = new RegExp(`^(${[...new Set(RELATIVE_STUBS.map((s) => s.path))].map(escapeRegExp).join('|')})$`);

/**
 * Client files that are the same in every client and keep no module state: one copy serves
 * all clients in a bundle. The copy is client-ecr's (every AWS bundle of regauth has ECR).
 */
const SHARED_CLIENT_FILE = /^\.\/runtimeExtensions$/;
const CANONICAL_CLIENT = 'client-ecr';

/** True when `a` and `b` have the same text and every import of theirs resolves to the same module, recursively. */
async function sameModule(build: PluginBuild, a: string, b: string): Promise<boolean> {
  const [textA, textB] = await Promise.all([readFile(a, 'utf8'), readFile(b, 'utf8')]).catch(() => ['', '\0']);
  if (textA !== textB) return false;
  for (const [, spec] of textA.matchAll(/\b(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
    if (!spec) return false;
    if (spec.startsWith('.')) {
      if (!(await sameModule(build, join(dirname(a), `${spec}.js`), join(dirname(b), `${spec}.js`)))) return false;
    } else {
      const [fromA, fromB] = await Promise.all([dirname(a), dirname(b)].map((resolveDir) => build.resolve(spec, { resolveDir, kind: 'import-statement' })));
      if (!fromA?.path || fromA.path !== fromB?.path) return false;
    }
  }
  return true;
}

/**
 * Aliased packages and the client whose bundle must load their stub (any AWS bundle when
 * undefined). An alias whose package the SDK no longer imports would be dead weight in this
 * file, and one the SDK renamed would let the real package in: either fails the build.
 */
const ALIASED: Readonly<Record<string, { stub: string; client?: string }>> = {
  // The default credential chain (~110 KB): every client gets credentials or is unsigned.
  '@aws-sdk/credential-provider-node': { stub: 'credential-provider-node' },
  // STS's SigV4a-capable signer: STS is only called unsigned, and its identity for a signed
  // scheme would come from the (stubbed) default chain, which throws before any signer exists.
  '@aws-sdk/signature-v4-multi-region': { stub: 'signature-v4-multi-region', client: 'client-sts' },
  // Lambda's per-invocation trace store: empty outside the Lambda runtime.
  '@aws/lambda-invoke-store': { stub: 'lambda-invoke-store' },
};

/**
 * Every rewrite checks at the end of a build that it still met what it was written for: a
 * bundle with an AWS client must have used each stub, pruned each client's error registry,
 * trimmed the partitions table and checked each rule set. An SDK update that moves a stubbed
 * path or renames a file fails `npm run build` instead of silently bundling the full code.
 */
function sdkTrim(): Plugin {
  return {
    name: 'regauth-sdk-trim',
    setup(build) {
      const clients = new Set<string>();
      const applied = new Set<string>();
      const clientOf = (path: string): string => /[\\/]@aws-sdk[\\/](client-[^\\/]+)[\\/]/.exec(path)?.[1] ?? '';
      build.onStart(() => {
        clients.clear();
        applied.clear();
      });
      // Each SDK client imports its whole package.json for one field, `version` (user agent).
      build.onLoad({ filter: /[\\/]@aws-sdk[\\/][^\\/]+[\\/]package\.json$/ }, async (args) => {
        const { version } = JSON.parse(await readFile(args.path, 'utf8')) as { version: string };
        return { contents: JSON.stringify({ version }), loader: 'json' };
      });
      build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_0\.js$/ }, async (args) => {
        const client = clientOf(args.path);
        const keep = MODELLED_ERRORS[client];
        if (!keep) throw new Error(`${args.path}: no MODELLED_ERRORS entry for @aws-sdk/${client} in scripts/lib/aws-trim/bundle-options.ts`);
        applied.add(`errors ${client}`);
        return { contents: pruneErrorRegistrations(await readFile(args.path, 'utf8'), keep, args.path), loader: 'js' };
      });
      build.onLoad({ filter: inPackage('@aws-sdk/core', 'submodules/client/util-endpoints/lib/aws/partitions.js') }, async (args) => {
        applied.add('partitions');
        return { contents: await trimPartitions(await readFile(args.path, 'utf8'), args.path), loader: 'js' };
      });
      build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]endpoint[\\/](bdd|ruleset)\.js$/ }, async (args) => {
        applied.add(`rules ${clientOf(args.path)}`);
        return { contents: checkRuleSet(await readFile(args.path, 'utf8'), args.path), loader: 'js' };
      });
      // Which clients this bundle carries (their index is the first file of each).
      build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]index\.js$/ }, (args) => {
        clients.add(clientOf(args.path));
        return undefined;
      });
      // A stub file loaded means its alias or relative replacement applied.
      build.onLoad({ filter: /[\\/]aws-trim[\\/]stubs[\\/][^\\/]+\.ts$/ }, (args) => {
        applied.add(`stub ${basename(args.path, '.ts')}`);
        return undefined;
      });
      build.onResolve({ filter: SHARED_CLIENT_FILE }, async (args) => {
        const client = /^(.*[\\/]@aws-sdk[\\/])(client-[^\\/]+)[\\/]dist-es[\\/][^\\/]+\.js$/.exec(args.importer);
        if (!client?.[1] || client[2] === CANONICAL_CLIENT) return undefined;
        const own = join(args.resolveDir, `${args.path}.js`);
        const shared = join(client[1], CANONICAL_CLIENT, 'dist-es', `${args.path}.js`);
        return (await sameModule(build, own, shared)) ? { path: shared } : undefined;
      });
      build.onResolve({ filter: RELATIVE_STUB_PATHS }, (args) => {
        const match = RELATIVE_STUBS.find((s) => s.path === args.path && s.importer.test(args.importer));
        if (!match) return undefined;
        applied.add(`relative ${match.path}`);
        return { path: match.stub };
      });
      build.onEnd(() => {
        if (clients.size === 0) return undefined;
        const wants = (client: string | undefined): boolean => client === undefined || clients.has(client);
        const missing = [
          ...[...clients].flatMap((client) => [`errors ${client}`, `rules ${client}`]),
          'partitions',
          ...RELATIVE_STUBS.filter((s) => wants(s.client)).map((s) => `relative ${s.path}`),
          ...Object.values(ALIASED).filter((a) => wants(a.client)).map((a) => `stub ${a.stub}`),
        ].filter((key) => !applied.has(key));
        const text = (key: string): string => `the SDK trim "${key}" no longer applies (the SDK moved or renamed what it replaces): update scripts/lib/aws-trim/bundle-options.ts`;
        return { errors: [...new Set(missing)].map((key) => ({ text: text(key) })) };
      });
    },
  };
}

export const awsBundleOptions = {
  mainFields: ['module', 'main'],
  alias: {
    ...Object.fromEntries(Object.entries(ALIASED).map(([name, { stub: file }]) => [name, stub(file)])),
    // DEBUG= tracing of the proxy agents.
    debug: stub('debug'),
  },
  // Loaded by the SDK only for event-stream operations (none here), through a dynamic import.
  external: ['@smithy/core/event-streams'],
  legalComments: 'none' as const,
  // esbuild calls setup once per build: the tripwires count what that one build applied.
  plugins: [sdkTrim()],
};

/**
 * The AWS clients are pinned to exact versions in package.json, and the installed ones are those:
 * the trimming above was checked against these releases, so a caret range that lets one client
 * move alone (or a stale node_modules) fails the build. Update all clients in one commit.
 */
export function checkClientPins(root: string, readText: (path: string) => string): void {
  const manifest = JSON.parse(readText(join(root, 'package.json'))) as { devDependencies?: Record<string, string>; dependencies?: Record<string, string> };
  const declared = { ...manifest.dependencies, ...manifest.devDependencies };
  const problems: string[] = [];
  for (const [name, range] of Object.entries(declared)) {
    if (!name.startsWith('@aws-sdk/client-')) continue;
    if (!/^\d+\.\d+\.\d+$/.test(range)) problems.push(`${name} is "${range}", not an exact version`);
    const installed = (JSON.parse(readText(join(root, 'node_modules', name, 'package.json'))) as { version: string }).version;
    if (installed !== range) problems.push(`${name} ${installed} is installed, package.json pins ${range} (run npm ci)`);
  }
  if (problems.length > 0) throw new Error(`AWS clients: ${problems.join('; ')}`);
}
