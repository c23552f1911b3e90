import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packOrb } from '../../../scripts/lib/pack.ts';
import { checkOrbUsage } from '../../../scripts/lib/review.ts';
import { validateConfig } from '../../../scripts/lib/schema.ts';

/**
 * The README is for users first: what a CircleCI user needs to adopt regauth comes before anything
 * for contributors, and the setup it shows first works with the defaults (refresh included).
 */
const root = resolve(import.meta.dirname, '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const lines = readme.split('\n');
const contributors = readme.indexOf('\n# For contributors');
const userPart = readme.slice(0, contributors);

describe('README: the first screen', () => {
  it('starts with the two commands that try it locally and run every test', () => {
    const top = lines.slice(0, 8).join('\n');
    expect(top).toContain('bash scripts/install-system-packages.sh && npm ci && npm run demo');
    expect(top).toContain('bash .ci/run');
  });

  it('shows, within 40 lines, a config a user pastes: machine executor, ecr-oidc-login, pull, logout', () => {
    const first = lines.slice(0, 40).join('\n');
    expect(first).toContain('orbs:');
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const config = parse(snippet) as { orbs: Record<string, string>; jobs: Record<string, { machine?: unknown; steps: unknown[] }> };
    expect(validateConfig(config)).toEqual([]);
    expect(checkOrbUsage(packOrb(join(root, 'orb'), () => ''), config)).toEqual([]);
    const job = Object.values(config.jobs)[0];
    expect(job?.machine).toBeDefined();
    const names = (job?.steps ?? []).map((step) => (typeof step === 'string' ? step : Object.keys(step as object)[0]));
    expect(names).toEqual(expect.arrayContaining(['regauth/ecr-oidc-login', 'regauth/pull', 'regauth/logout']));
  });

  it('says what a job needs and where the organization setting for third-party orbs is, before anything for contributors', () => {
    expect(contributors).toBeGreaterThan(0);
    expect(userPart).toMatch(/node 18 or newer/);
    expect(userPart).toContain('Allow Uncertified Orbs');
    expect(userPart).toContain('Organization Settings › Security');
    expect(userPart).toContain('## Executors and images');
    for (const marker of ['<!-- figures:start -->', '<!-- release-table:start -->', '## Development']) expect(readme.indexOf(marker)).toBeGreaterThan(contributors);
  });

  it('describes behaviour, not "version 1"', () => {
    expect(readme).not.toMatch(/as in version 1/);
  });
});

describe('README: the AWS trust policy shown first works with refresh', () => {
  const aws = readme.slice(readme.indexOf('## What to create in AWS'));
  const policy = JSON.parse(/```json\n([\s\S]*?)```/.exec(aws)?.[1] ?? '{}') as { Statement: { Condition: Record<string, Record<string, string>> }[] };
  const condition = policy.Statement[0]?.Condition ?? {};

  it('conditions on aud and project-id with StringEquals, and not on sub (minted tokens may lack vcs-ref)', () => {
    expect(Object.keys(condition)).toEqual(['StringEquals']);
    expect(Object.keys(condition['StringEquals'] ?? {}).sort()).toEqual(['oidc.circleci.com/org/<ORG_ID>:aud', 'oidc.circleci.com/org/<ORG_ID>:oidc.circleci.com/project-id']);
  });

  it('shows the branch restriction second, with its caveat', () => {
    const branch = aws.indexOf('vcs-ref/refs/heads/main');
    expect(branch).toBeGreaterThan(aws.indexOf('oidc.circleci.com/project-id'));
    expect(aws).toMatch(/\*\*not confirmed\*\*/);
  });
});
