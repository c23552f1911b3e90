import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalGoogle, type LocalGoogle } from '../../testbed/gcp/index.ts';
import { startRegistry, type Registry } from '../../testbed/registry.ts';
import { loadOrb, newJob, runOrbCommand, runUserStep, type Orb } from '../../testbed/step-runner.ts';
import { requireTools } from '../../testbed/tools.ts';

/**
 * Issue 25 item 3: a token gcloud obtains through regauth's exported credential file is cached in
 * gcloud's config directory; with export_credentials that directory is regauth's own, so logout
 * removes the cache with it, and the job's CLOUDSDK_CONFIG (or its absence) comes back. The real
 * gcloud, against the local Google (its endpoints come from the credential file).
 */
const GCLOUD = '/usr/bin/gcloud';
const enabled = requireTools(['docker', 'docker-registry', 'openssl', GCLOUD]);
const SA = 'ci-pull@acme-project.iam.gserviceaccount.com';
const NO_DAEMON = 'unix:///tmp/regauth-gcloud-no-daemon.sock';
const MAPPING = { 'google.subject': "assertion['oidc.circleci.com/project-id']", 'attribute.project': "assertion['oidc.circleci.com/project-id']" };

describe.runIf(enabled)('gcp-oidc-login export_credentials and the real gcloud', () => {
  let orb: Orb;
  let google: LocalGoogle;
  let registry: Registry;

  beforeAll(async () => {
    orb = loadOrb();
    google = await startLocalGoogle({ attributeMapping: MAPPING });
    google.setProvider({ attributeCondition: `assertion.aud == '${google.orgId}'` });
    google.setServiceAccount(SA, { workloadIdentityUsers: [google.projectPrincipalSet()] });
    const hooks = google.registryAuth([`serviceAccount:${SA}`]);
    registry = await startRegistry({ auth: 'token', users: {}, token: { authenticate: hooks.authenticate, authorize: hooks.authorize } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([google?.stop(), registry?.stop()]);
  });

  // refresh: false (a static job-token source): the cache's place and its removal do not depend on the
  // source, and the executable source needs the circleci CLI (covered by gcp-refresh.test.ts).
  for (const refresh of [false]) {
    it(`gcloud's token cache lives in regauth's directory and is gone after logout; the job's properties stay visible (refresh: ${refresh})`, async () => {
      const context = newJob({ ...google.endpointEnv(), CIRCLE_OIDC_TOKEN_V2: await google.mintToken(), GCP_WORKLOAD_IDENTITY_PROVIDER: google.providerName, GCP_SERVICE_ACCOUNT: SA, DOCKER_HOST: NO_DAEMON, CLOUDSDK_CORE_DISABLE_PROMPTS: '1' });
      context.env.DOCKER_CONFIG = join(context.cwd, 'docker-config');
      const own = join(context.cwd, '.config', 'gcloud');
      mkdirSync(join(own, 'configurations'), { recursive: true });
      writeFileSync(join(own, 'active_config'), 'default');
      writeFileSync(join(own, 'configurations', 'config_default'), '[core]\nproject = acme-project\n');
      const login = await runOrbCommand(orb, 'gcp-oidc-login', { registries: registry.host, export_credentials: true, refresh }, context);
      expect(login.exitCode, login.stderr).toBe(0);
      const regauthGcloud = join(context.cwd, '.regauth', 'gcloud');
      expect(login.stdout).toContain(`regauth: later steps' gcloud keeps its config and token cache in ${regauthGcloud} (CLOUDSDK_CONFIG; the job's own properties copied: 2 files)`);

      const project = await runUserStep(context, `${GCLOUD} config get-value project 2>/dev/null`);
      expect(project.stdout.trim()).toBe('acme-project');
      const printed = await runUserStep(context, `${GCLOUD} auth print-access-token`);
      expect(printed.exitCode, printed.stderr).toBe(0);
      expect(google.verifyAccessToken(printed.stdout.trim())?.serviceAccount).toBe(SA);
      // gcloud cached what it got, in regauth's directory, not in the job's.
      expect(readdirSync(regauthGcloud)).toContain('access_tokens.db');
      expect(existsSync(join(own, 'access_tokens.db'))).toBe(false);

      const out = await runOrbCommand(orb, 'logout', {}, context);
      expect(out.exitCode, out.stderr).toBe(0);
      expect(out.stdout).toContain(`regauth: removed ${regauthGcloud}`);
      expect(out.stdout).toMatch(/later steps no longer get [^;]*CLOUDSDK_CONFIG/);
      expect(existsSync(regauthGcloud)).toBe(false);
      const after = await runUserStep(context, 'echo "${CLOUDSDK_CONFIG-unset}"');
      expect(after.stdout).toBe('unset\n');
      expect(readFileSync(join(own, 'configurations', 'config_default'), 'utf8')).toBe('[core]\nproject = acme-project\n');
    }, 120_000);
  }
});
