import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packOrb } from '../../../scripts/lib/pack.ts';
import { checkOrbUsage } from '../../../scripts/lib/review.ts';
import { validateConfig } from '../../../scripts/lib/schema.ts';

/**
 * The README's "The job's own image, or an image a step pulls" snippets (between the
 * image-auth markers) are configs that CircleCI's schema, as vendored, accepts. CircleCI
 * documents `gcp_auth:` on Docker images; the 2026-08-05 snapshot lacks it, so that snippet must
 * draw exactly one complaint, the unknown key: when the schema learns it, this test fails and
 * the README's caveat goes.
 */
const root = resolve(import.meta.dirname, '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const section = /<!-- image-auth:start -->([\s\S]*?)<!-- image-auth:end -->/.exec(readme)?.[1] ?? '';
const snippets = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');

type Config = { jobs: Record<string, { docker?: Record<string, unknown>[]; machine?: unknown; steps: unknown[] }> };
const configs = snippets.map((text) => parse(text) as Config);
const images = configs.flatMap((c) => Object.values(c.jobs).flatMap((job) => job.docker ?? []));
const withKey = (key: string): number => configs.findIndex((c) => Object.values(c.jobs).some((job) => job.docker?.some((image) => key in image)));

describe("README: the job's own image, or an image a step pulls", () => {
  it('has a snippet for auth:, aws_auth: with oidc_role_arn, gcp_auth: and regauth on a machine executor', () => {
    expect(snippets).toHaveLength(4);
    expect(images.find((image) => 'auth' in image)?.['auth']).toEqual({ username: expect.any(String), password: expect.any(String) });
    expect(images.find((image) => 'aws_auth' in image)?.['aws_auth']).toEqual({ oidc_role_arn: expect.stringMatching(/^arn:aws:iam::\d{12}:role\//) });
    // The keys CircleCI's Artifact Registry guide documents, and no others.
    expect(Object.keys(images.find((image) => 'gcp_auth' in image)?.['gcp_auth'] ?? {}).sort()).toEqual(['oidc_service_account', 'workload_identity_pool', 'workload_identity_provider']);
    const regauth = configs.find((c) => JSON.stringify(c).includes('regauth/'));
    expect(Object.values(regauth?.jobs ?? {})[0]?.machine).toBeDefined();
  });

  it.each(['auth', 'aws_auth'])('the %s: snippet validates against the vendored schema', (key) => {
    expect(validateConfig(configs[withKey(key)])).toEqual([]);
  });

  it("the regauth snippet validates against the vendored schema and calls the orb's commands with their parameters", () => {
    const config = configs.find((c) => JSON.stringify(c).includes('regauth/'));
    expect(validateConfig(config)).toEqual([]);
    // The orb source packed without its generated scripts: only names and parameters matter here.
    expect(checkOrbUsage(packOrb(join(root, 'orb'), () => ''), config ?? {})).toEqual([]);
  });

  it('the gcp_auth: snippet draws exactly one complaint, the key the schema snapshot does not know', () => {
    const index = withKey('gcp_auth');
    const job = Object.keys(configs[index]?.jobs ?? {})[0];
    const image = configs[index]?.jobs[job ?? '']?.docker?.findIndex((i) => 'gcp_auth' in i);
    expect(validateConfig(configs[index])).toEqual([`jobs.${job}.docker[${image}]: unexpected property 'gcp_auth'`]);
    expect(readme).toMatch(/does not know `gcp_auth` yet/);
  });
});
