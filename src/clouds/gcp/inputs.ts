import { DEFAULT_GOOGLE_ENDPOINTS, parseEndpointBase, parseWorkloadIdentityProvider, serviceAccountProblem, type GoogleEndpoints, type WorkloadIdentityProvider } from './index.ts';
import { InputError, UserError } from '../../core/errors.ts';
import { isGoogleRegistry, parseRegistryHost, type RegistryTarget } from '../../registry/host.ts';
import { booleanParameter, envKey, integerParameter, listParameter, stringParameter, type Env } from '../../inputs/common.ts';

export interface GcpOidcInputs {
  provider: WorkloadIdentityProvider;
  /** '' = no impersonation: the federated token itself logs in. */
  serviceAccount: string;
  registries: RegistryTarget[];
  /** Hosts that are not Google's, logged in to anyway (private endpoints); the command notes them. */
  otherHosts: string[];
  /** Empty: use the job's token. */
  audience: string;
  tokenLifetimeSeconds: number;
  refresh: boolean;
  exportCredentials: boolean;
  endpoints: GoogleEndpoints;
}

/** gcloud's endpoint overrides, which regauth follows (and a refresh carries from the login). */
export const ENDPOINT_VARIABLES = { sts: 'CLOUDSDK_API_ENDPOINT_OVERRIDES_STS', iamCredentials: 'CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS' } as const;

/** Every gcp-oidc-login parameter, checked once, before any request. */
export function parseGcpOidcInputs(env: Env): GcpOidcInputs {
  const providerText = stringParameter(env, 'workload_identity_provider', { maxLength: 512 });
  if (providerText === '') throw new InputError('workload_identity_provider', 'is empty (the default is ${GCP_WORKLOAD_IDENTITY_PROVIDER}, which is not set); set it to projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>');
  const provider = parseWorkloadIdentityProvider(providerText);
  if ('error' in provider) throw new InputError('workload_identity_provider', provider.error);

  const serviceAccount = stringParameter(env, 'service_account', { maxLength: 254 }).toLowerCase();
  if (serviceAccount !== '') {
    const issue = serviceAccountProblem(serviceAccount);
    if (issue) throw new InputError('service_account', issue);
  }

  const hosts = listParameter(env, 'registries', { maxLength: 4096 });
  if (hosts.length === 0) throw new InputError('registries', 'is empty; name at least one registry host, e.g. us-docker.pkg.dev or gcr.io');
  const registries: RegistryTarget[] = [];
  const otherHosts: string[] = [];
  for (const host of hosts) {
    const target = parseRegistryHost(host);
    if ('error' in target) throw new InputError('registries', `item ${JSON.stringify(host)} ${target.error}`);
    if (target.kind === 'dockerhub') throw new InputError('registries', `item ${JSON.stringify(host)} is Docker Hub, which does not accept Google credentials; use regauth/login for it`);
    if (registries.some((r) => r.configKey === target.configKey)) continue;
    registries.push(target);
    if (!isGoogleRegistry(target)) otherHosts.push(target.host);
  }

  const audience = stringParameter(env, 'audience', { maxLength: 1024 });
  const tokenLifetimeSeconds = integerParameter(env, 'token_lifetime', { min: 600, max: 43200, fallback: 3600 });
  const refresh = (env[envKey('refresh')] ?? '').trim() === '' ? true : booleanParameter(env, 'refresh');
  const exportCredentials = booleanParameter(env, 'export_credentials');
  return { provider, serviceAccount, registries, otherHosts, audience, tokenLifetimeSeconds, refresh, exportCredentials, endpoints: parseGoogleEndpoints(env) };
}

export function parseGoogleEndpoints(env: Env): GoogleEndpoints {
  const endpoints = { ...DEFAULT_GOOGLE_ENDPOINTS };
  for (const [key, variable] of Object.entries(ENDPOINT_VARIABLES) as [keyof GoogleEndpoints, string][]) {
    const value = (env[variable] ?? '').trim();
    if (value === '') continue;
    const base = parseEndpointBase(value);
    if (typeof base !== 'string') throw new UserError(`environment variable ${variable}: ${base.error}`, 2);
    endpoints[key] = base;
  }
  return endpoints;
}
