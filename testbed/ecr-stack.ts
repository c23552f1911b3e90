/**
 * The local world an ECR login with refresh runs against, as several end-to-end files need it:
 * a real dockerd, one htpasswd registry per account standing in for its ECR registry (the ECR
 * password is the only account), an image seeded in each, the local AWS (issuer, STS, ECR) whose
 * ECR answers name those registries as proxyEndpoints, every lifetime short enough to expire
 * during a test, and the FAKE CircleCI job agent minting at the local issuer (the real one only
 * runs inside a CircleCI job).
 */
import { join } from 'node:path';
import { startLocalAws, type LocalAws } from './aws/index.ts';
import { startEngine, type Engine, type EngineOptions } from './engine.ts';
import { fakeCircleci, type FakeCircleci } from './fake-circleci.ts';
import { seedImage, type SeededImage } from './images.ts';
import { startRegistry, type Registry } from './registry.ts';
import { newJob, type JobContext } from './step-runner.ts';

export const ECR_ACCOUNT = '123456789012';
export const ECR_ACCOUNT_B = '222222222222';

/** What each account's registry holds, in account order. */
const SEEDS = [
  { name: 'app/api', tag: '1.0' },
  { name: 'team/worker', tag: 'v2' },
] as const;

export interface EcrStackOptions {
  /** The password ECR hands out and the registries accept: a canary the test looks for. */
  password: string;
  /** One registry per account (at most two); default the one account ECR_ACCOUNT. */
  accounts?: readonly string[];
  /** Job token, STS credentials and ECR password lifetime in seconds; default 8. */
  lifetimeSeconds?: number;
  /** How the fake agent is named on PATH; default `circleci`. */
  agentName?: 'circleci' | 'circleci-agent';
  engine?: EngineOptions;
  /** Serve the registries over HTTPS; default true. */
  registryTls?: boolean;
}

export interface EcrJobOptions {
  /** Directories ahead of the job's own ~/bin on PATH; default the fake agent's. */
  path?: readonly string[];
  /** How long the job's own token lives; default the stack's lifetime. */
  tokenSeconds?: number;
  /** Point DOCKER_HOST at the stack's engine; default true. */
  dockerHost?: boolean;
}

export interface EcrStack {
  aws: LocalAws;
  engine: Engine;
  /** In account order. */
  registries: Registry[];
  /** One per registry, in account order. */
  images: SeededImage[];
  agent: FakeCircleci;
  /** The role the accounts' registries trust: `arn:aws:iam::<first account>:role/ci-pull`. */
  role: string;
  /** A job like a cimg image's: the agent and ~/bin (missing until regauth creates it) on PATH, its own docker config. */
  job(options?: EcrJobOptions): Promise<JobContext>;
  stop(): Promise<void>;
}

export async function startEcrStack(options: EcrStackOptions): Promise<EcrStack> {
  const accounts = options.accounts ?? [ECR_ACCOUNT];
  if (accounts.length === 0 || accounts.length > SEEDS.length) throw new Error(`an ECR stack has 1 to ${SEEDS.length} accounts`);
  const lifetime = options.lifetimeSeconds ?? 8;
  const role = `arn:aws:iam::${accounts[0]}:role/ci-pull`;
  const as = { username: 'AWS', password: options.password };
  const started: { stop(): Promise<void> }[] = [];
  const track = <T extends { stop(): Promise<void> }>(part: T): T => {
    started.push(part);
    return part;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((part) => part.stop()));
  };
  try {
    const [engine, ...registries] = await Promise.all([
      startEngine(options.engine).then(track),
      ...accounts.map(() => startRegistry({ auth: 'htpasswd', tls: options.registryTls ?? true, users: { AWS: options.password } }).then(track)),
    ]);
    const images = await Promise.all(registries.map((registry, index) => seedImage(registry, { ...SEEDS[index]!, as })));
    const aws = track(
      await startLocalAws({
        roles: { [role]: { subPattern: 'org/*', accounts: [...accounts] } },
        ecrPassword: options.password,
        proxyEndpoints: Object.fromEntries(accounts.map((account, index) => [account, registries[index]!.url])),
        lifetimes: { jobTokenSeconds: lifetime, stsSeconds: lifetime, ecrSeconds: lifetime },
      }),
    );
    const agent = fakeCircleci(aws.mintUrl, process.execPath, options.agentName ?? 'circleci');
    const job = async (jobOptions: EcrJobOptions = {}): Promise<JobContext> => {
      const context = newJob({
        ...aws.endpointEnv(),
        CIRCLE_OIDC_TOKEN_V2: await aws.mintToken({ expiresInSeconds: jobOptions.tokenSeconds ?? lifetime }),
        AWS_DEFAULT_REGION: 'us-east-1',
        ...(jobOptions.dockerHost === false ? {} : { DOCKER_HOST: engine.dockerHost }),
      });
      context.env.PATH = [...(jobOptions.path ?? [agent.dir]), `${context.cwd}/bin`, context.env.PATH ?? ''].join(':');
      context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
      return context;
    };
    return { aws, engine, registries, images, agent, role, job, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
