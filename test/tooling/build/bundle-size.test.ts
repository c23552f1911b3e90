import { build } from 'esbuild';
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BUNDLE_OPTIONS, buildRelease, bundleCommand, JOB_COMMANDS, JOB_LIMIT, minifyBundle, STEP_LIMIT, stepBytes } from '../../../scripts/build.ts';
import { startLocalAws, type LocalAws, type Service } from '../../../testbed/aws/index.ts';

/**
 * The AWS size options (scripts/lib/aws-trim/bundle-options.ts) against what they must not change: the
 * ECR command bundles stay under their ceilings, and the AWS layer bundled with them behaves
 * like the unbundled source — same results, same error classification for every code the
 * local stack can send, same endpoint hosts across regions, partitions, FIPS and dual-stack.
 */

const root = resolve(import.meta.dirname, '../../..');
const KiB = 1024;
/**
 * Minified bytes, as `npm run build` prints them (before this: 249.2 and 202.7 KiB). Raised by
 * 12 KiB for the hardening: docker login now shares pull's classifier of docker's wording, the
 * stale-lock takeover, the no-follow file checks and the remote-text renderer. ecr-oidc-login
 * also carries the refresh half of docker-credential-regauth (about 22 KiB: recipes, cache, lock,
 * install routes, the helper's commands). ecr-login +1 KiB for the journal every login records
 * in before docker writes (181.3 KiB measured, was just under 181). This wave (measured 244.2 and
 * 181.1 KiB after it): the journal and AWS profile export (+1 KiB each), the output rules and debug
 * lines (+1.2 and +1.4 KB), the single lock loop and docker's helper protocol module (+1 KB), the
 * agent lookup and endpoint pinning; the adaptive-retry stub took 3.2 KB off. 1 KiB of headroom.
 * ecr-oidc-login +2 KiB (measured 247.4 KiB) for issue 25's items 1 and 2: the helper serves only
 * the job that logged in, a login discards another job's leftovers, logout fences off a running refresh.
 * Issue 21 part 2 (measured 239.6 and 174.1 KiB after it, from 247.4 and 181.1): terser after esbuild
 * and the defaults-mode, instance-metadata-region and logger-middleware stubs. About 1.5 KiB of headroom.
 */
const CEILINGS: Record<string, number> = { 'ecr-oidc-login': 245 * KiB, 'ecr-login': 176 * KiB };
/**
 * What a job with ecr-oidc-login + pull + logout adds to a compiled config (its steps as YAML),
 * and the largest single step: the figures measured at the end of this wave as ceilings (144.5 and
 * 95.4 KiB, with 1.5 KiB of headroom), so they only go down (132.0 and 91.6 KiB before the journal,
 * the output rules and the pull plan were added). Issue 21 part 2 took them to 130.5 and 85.5 KiB
 * (base85 payload, terser, three more SDK stubs): the ceilings below, with about 1.5 KiB of headroom.
 * Issue 21's goal (JOB_LIMIT 96 KiB, STEP_LIMIT 72 KiB) is not met; the case that says so flips to a
 * failure the day it is, and then becomes the ceiling.
 */
const JOB_CEILING = 133.5 * KiB;
const STEP_CEILING = 88.5 * KiB;
/** node_modules bytes (esbuild's, before terser) in a bundle of only the AWS layer (before this: 216.9 KiB; 171.2; now 164.6). */
const AWS_LAYER_CEILING = 166 * KiB;

const ROLE = 'arn:aws:iam::123456789012:role/ci-pull';
const STATIC = { accessKeyId: 'AKIAREGAUTHTEST00001', secretAccessKey: 'static/secret/key/for/tests/only', account: '210987654321' };

/**
 * Runs a plan of AWS calls through src/clouds/aws, one JSON line per step. The same text runs twice:
 * from source (tsx) and from its bundle. `env` applies to one step only.
 */
const RUNNER = `
import { assumeRoleWithWebIdentity, AwsCallError, getEcrAuthorization, getEcrPublicAuthorization } from ${JSON.stringify(join(root, 'src/clouds/aws/index.ts'))};

const retry = { policy: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxServerWaitMs: 1 } };

async function step(s, state) {
  const keys = { accessKeyId: process.env.RUNNER_KEY_ID, secretAccessKey: s.secret ?? process.env.RUNNER_SECRET };
  const credentials = s.withRole ? state.role : keys;
  if (s.call === 'sts') {
    const role = await assumeRoleWithWebIdentity({ region: s.region ?? 'us-east-1', roleArn: process.env.RUNNER_ROLE_ARN, sessionName: 'bundle-size', durationSeconds: 900, token: process.env.RUNNER_TOKEN, retry });
    state.role = role.credentials;
    return { arn: role.assumedRoleArn, key: role.credentials.accessKeyId.slice(0, 4), expires: role.credentials.expiration instanceof Date };
  }
  if (s.call === 'ecr') {
    const logins = await getEcrAuthorization({ region: s.region ?? 'us-east-1', credentials, ...(s.registryIds ? { registryIds: s.registryIds } : {}), retry });
    return logins.map((l) => [l.registry, l.username, l.password.length, l.expiresAt instanceof Date]);
  }
  const login = await getEcrPublicAuthorization({ credentials, retry });
  return [login.registry, login.username, login.password.length, login.expiresAt instanceof Date];
}

async function main() {
  const state = {};
  for (const s of JSON.parse(process.env.RUNNER_PLAN)) {
    const saved = { ...process.env };
    Object.assign(process.env, s.env);
    try {
      process.stdout.write(JSON.stringify({ ok: await step(s, state) }) + '\\n');
    } catch (error) {
      const c = error instanceof AwsCallError ? error.classification : { code: 'not an AwsCallError', message: String(error) };
      process.stdout.write(JSON.stringify({ error: c }) + '\\n');
    } finally {
      for (const name of Object.keys(s.env ?? {})) {
        if (name in saved) process.env[name] = saved[name];
        else delete process.env[name];
      }
    }
  }
}

void main();
`;

interface Step {
  call: 'sts' | 'ecr' | 'ecr-public';
  region?: string;
  registryIds?: string[];
  secret?: string;
  withRole?: boolean;
  env?: Record<string, string>;
}

let aws: LocalAws;
let dir: string;
let runnerFile: string;
let bundleFile: string;
let layerThirdPartyBytes: number;
let layerInputs: string[];

beforeAll(async () => {
  aws = await startLocalAws({ roles: { [ROLE]: { subPattern: 'org/*', accounts: ['123456789012', STATIC.account] } }, staticKeys: [STATIC] });
  dir = mkdtempSync(join(tmpdir(), 'regauth-bundle-size-'));
  writeFileSync(join(dir, 'empty'), '');
  runnerFile = join(dir, 'runner.ts');
  writeFileSync(runnerFile, RUNNER);
  bundleFile = join(dir, 'runner.cjs');
  // The settings of scripts/build.ts, on the runner instead of a command: esbuild, then terser.
  const result = await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [runnerFile],
    outfile: bundleFile,
    write: false,
    logLevel: 'error',
  });
  writeFileSync(bundleFile, await minifyBundle(result.outputFiles[0]?.text ?? ''));
  const output = Object.values(result.metafile.outputs)[0];
  layerInputs = Object.keys(output?.inputs ?? {});
  layerThirdPartyBytes = Object.entries(output?.inputs ?? {})
    .filter(([path]) => path.includes('node_modules/'))
    .reduce((sum, [, input]) => sum + input.bytesInOutput, 0);
});

afterAll(async () => {
  await aws?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The plan's output from source (tsx) and from the bundle, in that order. */
async function runBoth(plan: Step[], env: Record<string, string>, before?: () => void): Promise<[string[], string[]]> {
  const childEnv = {
    PATH: process.env.PATH ?? '',
    AWS_CONFIG_FILE: join(dir, 'empty'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'empty'),
    AWS_EC2_METADATA_DISABLED: 'true',
    RUNNER_PLAN: JSON.stringify(plan),
    RUNNER_ROLE_ARN: ROLE,
    RUNNER_TOKEN: await aws.mintToken(),
    RUNNER_KEY_ID: STATIC.accessKeyId,
    RUNNER_SECRET: STATIC.secretAccessKey,
    ...env,
  };
  const outputs: string[][] = [];
  for (const args of [['--import', 'tsx', runnerFile], [bundleFile]]) {
    before?.();
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, env: childEnv, encoding: 'utf8' });
    outputs.push(stdout.trim().split('\n'));
  }
  return [outputs[0] ?? [], outputs[1] ?? []];
}

describe('bundle size', () => {
  it.each(Object.entries(CEILINGS))('%s stays under its ceiling and starts', async (command, ceiling) => {
    const { code } = await bundleCommand(command);
    console.log(`${command}: ${(code.length / KiB).toFixed(1)} KiB (ceiling ${ceiling / KiB} KiB)`);
    expect(code.length).toBeLessThan(ceiling);
    // Every bundled SDK module initialises before the command refuses its missing inputs.
    const file = join(dir, `${command}.cjs`);
    writeFileSync(file, code);
    const run = await promisify(execFile)(process.execPath, [file], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code?: number; stderr?: string }) => ({ code: error.code, stderr: error.stderr ?? '' }),
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(new RegExp(`^regauth: ${command}: `));
    expect(run.stderr).not.toMatch(/TypeError|ReferenceError|SyntaxError|is not a function|not bundled/);
  });

  it('keeps the AWS layer small and without what the options leave out', () => {
    console.log(`AWS layer: ${(layerThirdPartyBytes / KiB).toFixed(1)} KiB from node_modules`);
    expect(layerThirdPartyBytes).toBeLessThan(AWS_LAYER_CEILING);
    const unwanted = /credential-provider-(node|ini|sso|process|web-identity)|signature-v4-multi-region|AdaptiveRetryStrategy|DefaultRateLimiter|lambda-invoke-store|nested-clients|Sha256Js|HeaderFormatter|AwsSdkSigV4ASigner|service-customizations|lib\/parseURL|lib\/aws\/parseArn|getInstanceMetadataRegion|resolveDefaultsModeConfig|smithy-client\/defaults-mode|middleware-logger/;
    expect(layerInputs.filter((path) => path.includes('node_modules/') && unwanted.test(path))).toEqual([]);
    // One copy of the runtime extensions serves the three clients.
    expect(layerInputs.filter((path) => path.endsWith('runtimeExtensions.js'))).toEqual(['node_modules/@aws-sdk/client-ecr/dist-es/runtimeExtensions.js']);
  });
});

describe('bytes per job in a compiled config', () => {
  let steps: Map<string, number>;
  beforeAll(async () => {
    steps = stepBytes(parse((await buildRelease()).orbYaml) as Record<string, unknown>);
  }, 60_000);
  const job = (): number => JOB_COMMANDS.reduce((sum, command) => sum + (steps.get(command) ?? Number.NaN), 0);

  it('a job with ecr-oidc-login + pull + logout, and every step, stay under today\'s ceilings', () => {
    console.log(`job: ${(job() / KiB).toFixed(1)} KiB; steps: ${[...steps].map(([c, b]) => `${c} ${(b / KiB).toFixed(1)} KiB`).join(', ')}`);
    expect(job()).toBeLessThanOrEqual(JOB_CEILING);
    for (const bytes of steps.values()) expect(bytes).toBeLessThanOrEqual(STEP_CEILING);
  });

  it.fails('meets issue 21\'s goal: at most 96 KiB per job and 72 KiB per step (not yet)', () => {
    expect(job()).toBeLessThanOrEqual(JOB_LIMIT);
    for (const bytes of steps.values()) expect(bytes).toBeLessThanOrEqual(STEP_LIMIT);
  });
});

describe('the bundled AWS layer behaves like the source', () => {
  it('succeeds the same way for STS, ECR (static and role keys, several accounts) and ECR Public', async () => {
    // A defaults mode set in the job changes nothing: the clients never evaluate it (the bundle's stub would throw).
    const modes: Step[] = [{ call: 'sts', env: { AWS_DEFAULTS_MODE: 'auto' } }, { call: 'ecr', withRole: true, env: { AWS_DEFAULTS_MODE: 'mobile' } }, { call: 'ecr-public', env: { AWS_DEFAULTS_MODE: 'in-region' } }];
    const plan: Step[] = [{ call: 'sts' }, { call: 'ecr', withRole: true }, { call: 'ecr', registryIds: ['123456789012', STATIC.account], withRole: true }, { call: 'ecr', region: 'eu-west-1' }, { call: 'ecr-public' }, ...modes];
    const [source, bundled] = await runBoth(plan, aws.endpointEnv());
    expect(bundled).toEqual(source);
    expect(bundled.map((line) => Object.keys(JSON.parse(line) as object)[0])).toEqual(plan.map(() => 'ok'));
  });

  it('classifies every error code the same, modelled by the operation or not', async () => {
    const faults: Record<Service, string[]> = {
      sts: ['Throttling', '500', 'IDPCommunicationError', 'InvalidIdentityToken', 'ExpiredTokenException', 'RegionDisabledException', 'IDPRejectedClaim', 'MalformedPolicyDocument', 'PackedPolicyTooLarge', 'ValidationError', 'AccessDenied', 'ExpiredTradeInTokenException'],
      ecr: ['Throttling', '500', 'InvalidParameterException', 'AccessDeniedException', 'InvalidSignatureException', 'UnrecognizedClientException', 'ExpiredTokenException', 'LimitExceededException', 'RepositoryNotFoundException', 'KmsException'],
      'ecr-public': ['Throttling', '500', 'UnsupportedCommandException', 'RegistryNotFoundException', 'InvalidParameterException', 'AccessDeniedException'],
    };
    const plan: Step[] = [
      ...(Object.keys(faults) as Service[]).flatMap((service) => faults[service].map(() => ({ call: service }))),
      { call: 'ecr', secret: 'wrong/secret' },
    ];
    const enqueue = (): void => {
      aws.clearFaults();
      for (const service of Object.keys(faults) as Service[]) for (const kind of faults[service]) aws.failNext(service, 1, kind);
    };
    const [source, bundled] = await runBoth(plan, aws.endpointEnv(), enqueue);
    expect(bundled).toEqual(source);
    const codes = bundled.map((line) => (JSON.parse(line) as { error?: { code: string; kind: string } }).error);
    expect(codes).toContainEqual(expect.objectContaining({ code: 'InvalidIdentityToken', kind: 'reauth' }));
    expect(codes).toContainEqual(expect.objectContaining({ code: 'IDPCommunicationError', kind: 'transient' }));
    expect(codes).toContainEqual(expect.objectContaining({ code: 'UnrecognizedClientException', kind: 'permanent' }));
    expect(codes.at(-1)).toMatchObject({ code: 'InvalidSignatureException', kind: 'permanent', status: 403 });
  });

  it('resolves the same endpoint hosts across partitions, FIPS and dual-stack', async () => {
    // A proxy that records each CONNECT target and refuses it: the SDK resolves real AWS hosts.
    const hosts: string[] = [];
    const proxy = http.createServer((_req, res) => res.writeHead(403).end());
    proxy.on('connect', (req: http.IncomingMessage, socket: import('node:net').Socket) => {
      hosts.push(req.url ?? '');
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
    try {
      const fips = { AWS_USE_FIPS_ENDPOINT: 'true' };
      const dual = { AWS_USE_DUALSTACK_ENDPOINT: 'true' };
      const regions = ['us-east-1', 'eu-central-1', 'aws-global', 'cn-north-1', 'us-gov-west-1', 'us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1', 'us-isof-south-1', 'eusc-de-east-1', 'xx-new-9'];
      const plan: Step[] = [
        // Not STS in aws-global: its rule set sends that pseudo-region to the global endpoint,
        // signed, which needs the default credential chain (regauth's inputs refuse the name).
        ...regions.flatMap((region): Step[] => [...(region === 'aws-global' ? [] : [{ call: 'sts' as const, region }]), { call: 'ecr', region }]),
        ...['us-east-1', 'us-gov-west-1', 'cn-north-1'].flatMap((region): Step[] => [fips, dual, { ...fips, ...dual }].flatMap((env): Step[] => [{ call: 'sts', region, env }, { call: 'ecr', region, env }])),
        { call: 'ecr-public' },
        { call: 'ecr-public', env: dual },
      ];
      const port = (proxy.address() as AddressInfo).port;
      const seen: string[][] = [];
      const [source, bundled] = await runBoth(plan, { HTTPS_PROXY: `http://127.0.0.1:${port}` }, () => seen.push(hosts.splice(0)));
      seen.push(hosts.splice(0));
      const [, fromSource, fromBundle] = seen;
      expect(bundled).toEqual(source);
      expect(fromBundle).toEqual(fromSource);
      expect(fromBundle).toEqual(expect.arrayContaining(['sts.us-east-1.amazonaws.com:443', 'api.ecr.us-east-1.amazonaws.com:443', 'api.ecr.cn-north-1.amazonaws.com.cn:443', 'api.ecr-fips.us-east-1.amazonaws.com:443', 'api.ecr-public.us-east-1.amazonaws.com:443']));
    } finally {
      await new Promise<void>((done) => proxy.close(() => done()));
    }
  });
});
