/**
 * Registry hosts as users write them, and what docker calls them (pure).
 * Docker Hub has several spellings but docker stores its credentials under one key.
 */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'hub.docker.com']);

export type RegistryKind = 'dockerhub' | 'gcr' | 'artifact-registry' | 'acr' | 'quay' | 'ghcr' | 'ecr' | 'ecr-public' | 'other';

export interface RegistryTarget {
  /** What the user named, normalised: host[:port] (lower case). */
  host: string;
  /** The argument for `docker login`/`logout`; undefined means docker's default (Docker Hub). */
  serverArgument: string | undefined;
  /** The key docker writes in config.json. */
  configKey: string;
  kind: RegistryKind;
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;
/** <account>.dkr.ecr[-fips].<region>.<partition's domain>: every partition's, dual-stack (on.aws) included. */
const ECR_PRIVATE = new RegExp(
  '^(\\d{12})\\.dkr[.-]ecr(-fips)?\\.((?:[a-z]{2}|eusc)(?:-[a-z]+)+-\\d+)\\.' +
    '(amazonaws\\.(?:com(?:\\.cn)?|eu)|on\\.(?:aws|amazonwebservices\\.com\\.cn)|sc2s\\.sgov\\.gov|c2s\\.ic\\.gov|cloud\\.adc-e\\.uk|csp\\.hci\\.ic\\.gov)$',
);

export interface EcrRegistryHost {
  account: string;
  region: string;
  fips: boolean;
  /** The domain after the region, e.g. amazonaws.com, amazonaws.com.cn, on.aws (dual-stack). */
  domain: string;
}

/** A private ECR registry host's parts, or undefined when `host` is not one. */
export function parseEcrRegistryHost(host: string): EcrRegistryHost | undefined {
  const match = ECR_PRIVATE.exec(host);
  if (!match) return undefined;
  return { account: match[1] ?? '', fips: match[2] !== undefined, region: match[3] ?? '', domain: match[4] ?? '' };
}

/** Returns the normalised target, or a reason the value is not a registry host. */
export function parseRegistryHost(value: string): RegistryTarget | { error: string } {
  let text = value.trim();
  if (text === '') return { error: 'is empty' };
  if (text === DOCKER_HUB_KEY || text === 'https://index.docker.io/v1') text = 'docker.io';
  text = text.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  if (text.includes('/')) return { error: `must be a host[:port] without a path, got ${JSON.stringify(value)}` };
  const lower = text.toLowerCase();
  const portMatch = /^(.*?)(?::(\d{1,5}))?$/.exec(lower);
  const hostPart = portMatch?.[1] ?? '';
  const port = portMatch?.[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return { error: `has port ${port}, outside 1–65535` };
  if (!(HOSTNAME.test(hostPart) || IPV4.test(hostPart) || IPV6.test(hostPart)) || hostPart.length > 253) {
    return { error: `is not a valid host[:port]: ${JSON.stringify(value)}` };
  }
  if (DOCKER_HUB_ALIASES.has(lower)) return { host: 'docker.io', serverArgument: undefined, configKey: DOCKER_HUB_KEY, kind: 'dockerhub' };
  return { host: lower, serverArgument: lower, configKey: lower, kind: kindOf(hostPart) };
}

/** <location>-docker.pkg.dev, e.g. us-docker.pkg.dev, europe-west1-docker.pkg.dev. */
const ARTIFACT_REGISTRY = /^[a-z][a-z0-9-]*[a-z0-9]-docker\.pkg\.dev$/;

/**
 * Whether Google serves docker images at the target and takes its OAuth tokens there: Artifact
 * Registry, or Container Registry (gcr.io and every *.gcr.io, e.g. marketplace.gcr.io).
 */
export function isGoogleRegistry(target: RegistryTarget): boolean {
  return target.kind === 'gcr' || target.kind === 'artifact-registry';
}

function kindOf(host: string): RegistryKind {
  if (host === 'gcr.io' || host.endsWith('.gcr.io')) return 'gcr';
  if (ARTIFACT_REGISTRY.test(host)) return 'artifact-registry';
  if (host.endsWith('.azurecr.io') || host.endsWith('.azurecr.cn') || host.endsWith('.azurecr.us')) return 'acr';
  if (host === 'quay.io') return 'quay';
  if (host === 'ghcr.io') return 'ghcr';
  if (host === 'public.ecr.aws') return 'ecr-public';
  if (parseEcrRegistryHost(host)) return 'ecr';
  return 'other';
}

/** ACR accepts a refresh token under this fixed user name. */
export const ACR_TOKEN_USERNAME = '00000000-0000-0000-0000-000000000000';
