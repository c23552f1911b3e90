import { describe, expect, it } from 'vitest';
import { parseGcpOidcInputs } from '../../../../src/clouds/gcp/inputs.ts';

const PROVIDER = 'projects/123456789/locations/global/workloadIdentityPools/circleci/providers/acme-org';
const SA = 'ci-pull@my-project.iam.gserviceaccount.com';

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER,
    REGAUTH_SERVICE_ACCOUNT: SA,
    REGAUTH_REGISTRIES: 'us-docker.pkg.dev',
    REGAUTH_AUDIENCE: '',
    REGAUTH_TOKEN_LIFETIME: '3600',
    REGAUTH_REFRESH: 'true',
    REGAUTH_EXPORT_CREDENTIALS: 'false',
    ...extra,
  };
}

const message = (extra: Record<string, string | undefined>): string => {
  try {
    parseGcpOidcInputs(env(extra));
  } catch (error) {
    return (error as Error).message;
  }
  return '(accepted)';
};

describe('regauth/gcp-oidc-login inputs', () => {
  it('reads every parameter, with Google endpoints by default', () => {
    const inputs = parseGcpOidcInputs(env({ REGAUTH_REGISTRIES: 'us-docker.pkg.dev, gcr.io,europe-west1-docker.pkg.dev' }));
    expect(inputs.provider).toEqual({ name: PROVIDER, projectNumber: '123456789', pool: 'circleci', provider: 'acme-org' });
    expect(inputs.serviceAccount).toBe(SA);
    expect(inputs.registries.map((r) => [r.host, r.configKey])).toEqual([
      ['us-docker.pkg.dev', 'us-docker.pkg.dev'],
      ['gcr.io', 'gcr.io'],
      ['europe-west1-docker.pkg.dev', 'europe-west1-docker.pkg.dev'],
    ]);
    expect(inputs.otherHosts).toEqual([]);
    expect([inputs.tokenLifetimeSeconds, inputs.refresh, inputs.exportCredentials, inputs.audience]).toEqual([3600, true, false, '']);
    expect(inputs.endpoints).toEqual({ sts: 'https://sts.googleapis.com/', iamCredentials: 'https://iamcredentials.googleapis.com/' });
  });

  it('takes the //iam.googleapis.com/ audience form and the defaults from the environment', () => {
    const inputs = parseGcpOidcInputs(
      env({ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: '${GCP_WORKLOAD_IDENTITY_PROVIDER}', GCP_WORKLOAD_IDENTITY_PROVIDER: `//iam.googleapis.com/${PROVIDER}`, REGAUTH_SERVICE_ACCOUNT: '${GCP_SERVICE_ACCOUNT}', GCP_SERVICE_ACCOUNT: undefined }),
    );
    expect(inputs.provider.name).toBe(PROVIDER);
    expect(inputs.serviceAccount).toBe('');
  });

  it('accepts another host with a note, and base URLs from the override variables', () => {
    const inputs = parseGcpOidcInputs(env({ REGAUTH_REGISTRIES: 'registry.internal.example:5000', CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'http://127.0.0.1:8080', CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: 'https://private.example/iam/' }));
    expect(inputs.otherHosts).toEqual(['registry.internal.example:5000']);
    // One rule with the registry kind (registry/host.ts): every gcr.io host is Google's, a look-alike is not.
    expect(parseGcpOidcInputs(env({ REGAUTH_REGISTRIES: 'marketplace.gcr.io, us-docker.pkg.dev:443, a.b-docker.pkg.dev' })).otherHosts).toEqual(['a.b-docker.pkg.dev']);
    expect(inputs.endpoints).toEqual({ sts: 'http://127.0.0.1:8080/', iamCredentials: 'https://private.example/iam/' });
  });

  it.each([
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: '${GCP_WORKLOAD_IDENTITY_PROVIDER}' }, 'parameter workload_identity_provider: is empty (the default is ${GCP_WORKLOAD_IDENTITY_PROVIDER}, which is not set); set it to projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>'],
    // CircleCI's gcp_auth: takes the bare provider ID under the same key: say which form is wanted, and why.
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: 'acme-org' }, 'parameter workload_identity_provider: "acme-org" is a bare provider ID (the form CircleCI\'s gcp_auth: takes); give the full name projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/acme-org'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: 'Acme_Org' }, 'parameter workload_identity_provider: "Acme_Org" is a bare provider ID (the form CircleCI\'s gcp_auth: takes); give the full name projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: 'pools/circleci' }, 'parameter workload_identity_provider: must be projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider> (or //iam.googleapis.com/ followed by that), got "pools/circleci"'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER.replace('123456789', 'my-project') }, 'parameter workload_identity_provider: names project "my-project"; it must be the project NUMBER (digits, as gcloud projects describe prints it), not the project id'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER.replace('global', 'us-east1') }, 'parameter workload_identity_provider: names location "us-east1"; workload identity pools live in location global'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER.replace('circleci', 'ci') }, 'parameter workload_identity_provider: names pool "ci"; a pool id is 4 to 32 characters of a-z, 0-9 and -'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: PROVIDER.replace('acme-org', 'Acme_Org') }, 'parameter workload_identity_provider: names provider "Acme_Org"; a provider id is 4 to 32 characters of a-z, 0-9 and -'],
    [{ REGAUTH_WORKLOAD_IDENTITY_PROVIDER: `${PROVIDER};id` }, 'parameter workload_identity_provider: contains the shell metacharacter ";", which no valid value has'],
    [{ REGAUTH_SERVICE_ACCOUNT: 'ci-pull@gmail.com' }, 'parameter service_account: must be a service account e-mail such as ci-pull@my-project.iam.gserviceaccount.com, got "ci-pull@gmail.com"'],
    [{ REGAUTH_SERVICE_ACCOUNT: '$(id)@x.iam.gserviceaccount.com' }, 'parameter service_account: contains the shell metacharacter "$", which no valid value has'],
    [{ REGAUTH_REGISTRIES: '' }, 'parameter registries: is empty; name at least one registry host, e.g. us-docker.pkg.dev or gcr.io'],
    [{ REGAUTH_REGISTRIES: 'us-docker.pkg.dev/my-project' }, 'parameter registries: item "us-docker.pkg.dev/my-project" must be a host[:port] without a path, got "us-docker.pkg.dev/my-project"'],
    [{ REGAUTH_REGISTRIES: 'docker.io' }, 'parameter registries: item "docker.io" is Docker Hub, which does not accept Google credentials; use regauth/login for it'],
    [{ REGAUTH_REGISTRIES: 'gcr.io;rm' }, 'parameter registries: item "gcr.io;rm" contains the shell metacharacter ";", which no valid value has'],
    [{ REGAUTH_TOKEN_LIFETIME: '599' }, 'parameter token_lifetime: must be from 600 to 43200, got 599'],
    [{ REGAUTH_TOKEN_LIFETIME: '1h' }, 'parameter token_lifetime: must be a whole number from 600 to 43200, got "1h"'],
    [{ REGAUTH_REFRESH: 'yes' }, 'parameter refresh: must be true or false, got "yes"'],
    [{ REGAUTH_EXPORT_CREDENTIALS: 'maybe' }, 'parameter export_credentials: must be true or false, got "maybe"'],
    [{ REGAUTH_AUDIENCE: 'a`id`' }, 'parameter audience: contains the shell metacharacter "`", which no valid value has'],
    [{ CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'sts.googleapis.com' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: must be a base URL such as https://sts.googleapis.com/, got "sts.googleapis.com"'],
    [{ CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: 'http://sts.example.com/' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_STS: must use https:// (plain http is allowed for 127.0.0.1 and localhost only), got "http://sts.example.com/"'],
    [{ CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: 'https://u:p@iam.example/' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: must not carry a user name or password'],
    [{ CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: 'https://iam.example/?x=1' }, 'environment variable CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS: must be a base URL without ? or #, got "https://iam.example/?x=1"'],
  ])('refuses %j with one exact line', (extra, expected) => {
    expect(message(extra)).toBe(expected);
  });
});
