/** Pure checks of what users write for Google; each returns a reason, or the parsed value. */

export interface WorkloadIdentityProvider {
  /** `projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>`. */
  name: string;
  projectNumber: string;
  pool: string;
  provider: string;
}

const ID = /^[a-z0-9-]{4,32}$/;
const PROVIDER_NAME = /^projects\/([^/]*)\/locations\/([^/]*)\/workloadIdentityPools\/([^/]*)\/providers\/([^/]*)$/;
export const PROVIDER_FORM = 'projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>';
/** A value with no path at all: what CircleCI's `gcp_auth: workload_identity_provider` takes. */
const BARE_ID = /^[A-Za-z0-9_.-]{1,63}$/;

/**
 * CircleCI's own `gcp_auth:` uses this key for the provider's bare ID, so users paste that here;
 * say so, with the full name their ID belongs in, before anything is sent.
 */
function bareIdProblem(value: string): string | undefined {
  if (!BARE_ID.test(value)) return undefined;
  const full = PROVIDER_FORM.replace('<provider>', ID.test(value) ? value : '<provider>');
  return `${JSON.stringify(value)} is a bare provider ID (the form CircleCI's gcp_auth: takes); give the full name ${full}`;
}

/** The resource name, or the `//iam.googleapis.com/projects/…` audience form of it. */
export function parseWorkloadIdentityProvider(value: string): WorkloadIdentityProvider | { error: string } {
  const bare = bareIdProblem(value);
  if (bare !== undefined) return { error: bare };
  const name = value.startsWith('//iam.googleapis.com/') ? value.slice('//iam.googleapis.com/'.length) : value;
  const match = PROVIDER_NAME.exec(name);
  if (!match) return { error: `must be ${PROVIDER_FORM} (or //iam.googleapis.com/ followed by that), got ${JSON.stringify(clip(value))}` };
  const [, project = '', location = '', pool = '', provider = ''] = match;
  if (!/^\d{1,19}$/.test(project)) return { error: `names project ${JSON.stringify(clip(project))}; it must be the project NUMBER (digits, as gcloud projects describe prints it), not the project id` };
  if (location !== 'global') return { error: `names location ${JSON.stringify(clip(location))}; workload identity pools live in location global` };
  if (!ID.test(pool)) return { error: `names pool ${JSON.stringify(clip(pool))}; a pool id is 4 to 32 characters of a-z, 0-9 and -` };
  if (!ID.test(provider)) return { error: `names provider ${JSON.stringify(clip(provider))}; a provider id is 4 to 32 characters of a-z, 0-9 and -` };
  return { name, projectNumber: project, pool, provider };
}

const SERVICE_ACCOUNT = /^[a-z0-9][a-z0-9._-]{0,99}@(?:[a-z0-9][a-z0-9-]*\.)+gserviceaccount\.com$/;

/** A service account e-mail (name@project.iam.gserviceaccount.com and Google's other kinds). */
export function serviceAccountProblem(email: string): string | undefined {
  if (email.length > 254) return `is ${email.length} characters long; a service account e-mail is at most 254`;
  if (!SERVICE_ACCOUNT.test(email)) return `must be a service account e-mail such as ci-pull@my-project.iam.gserviceaccount.com, got ${JSON.stringify(clip(email))}`;
  return undefined;
}

/**
 * A CLOUDSDK_API_ENDPOINT_OVERRIDES_* value as a base URL ending in `/`. Plain http only to
 * loopback: the job token must not cross a network unencrypted.
 */
export function parseEndpointBase(value: string): string | { error: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { error: `must be a base URL such as https://sts.googleapis.com/, got ${JSON.stringify(clip(value))}` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { error: `must be an https:// URL, got ${JSON.stringify(clip(value))}` };
  if (url.username !== '' || url.password !== '') return { error: 'must not carry a user name or password' };
  if (url.search !== '' || url.hash !== '') return { error: `must be a base URL without ? or #, got ${JSON.stringify(clip(value))}` };
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) return { error: `must use https:// (plain http is allowed for 127.0.0.1 and localhost only), got ${JSON.stringify(clip(value))}` };
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function clip(value: string, max = 120): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}
