import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { identityProblems, orbName, readOrbIdentity, stampText, withOrbIdentity, type OrbIdentity } from '../../../scripts/lib/orb-identity.ts';
import { packOrb } from '../../../scripts/lib/pack.ts';
import { ORB_NAME } from '../../../scripts/pipeline.ts';

const root = resolve(import.meta.dirname, '..', '..', '..');
const identity = readOrbIdentity(root);
const OTHER: OrbIdentity = { namespace: 'acme', name: 'regauth', sourceUrl: 'https://git.example/acme/regauth', homeUrl: 'https://acme.example/regauth' };

describe("the orb's namespace and URLs: package.json's orb setting", () => {
  it('every file that shows them agrees with package.json', () => {
    expect(identityProblems(root), 'run `npm run orb-identity` and commit the files it names').toEqual([]);
  });

  it('the pipeline publishes under the same name', () => {
    expect(ORB_NAME).toBe(orbName(identity));
  });

  it("the build stamps display and every example's orbs: line, whatever the source says", () => {
    const packed = withOrbIdentity(packOrb(join(root, 'orb'), () => ''), OTHER) as { display: object; examples: Record<string, { usage: { orbs: Record<string, string> } }> };
    expect(packed.display).toEqual({ source_url: OTHER.sourceUrl, home_url: OTHER.homeUrl });
    const refs = Object.values(packed.examples).map((example) => example.usage.orbs['regauth']);
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) expect(ref).toMatch(/^acme\/regauth@\d+$/);
  });

  it('a README or example naming another namespace is rewritten, and counts as a disagreement until it is', () => {
    const readme = 'orbs:\n  regauth: org/regauth@1\n\ncircleci orb source org/regauth@1.0.0\n  cimg/postgres:16.4\n';
    expect(stampText('README.md', readme, OTHER)).toBe('orbs:\n  regauth: acme/regauth@1\n\ncircleci orb source acme/regauth@1.0.0\n  cimg/postgres:16.4\n');
    const orbYml = 'display:\n  source_url: https://github.com/org/regauth\n  home_url: https://github.com/org/regauth#readme\n';
    expect(stampText('orb/@orb.yml', orbYml, OTHER)).toBe(`display:\n  source_url: ${OTHER.sourceUrl}\n  home_url: ${OTHER.homeUrl}\n`);
  });

  const dist = join(root, 'dist', 'orb.yml');
  it.runIf(existsSync(dist) || process.env['CI'] === 'true')('dist/orb.yml carries them', () => {
    const orb = parse(readFileSync(dist, 'utf8')) as { display: object; examples: Record<string, { usage: { orbs: Record<string, string> } }> };
    expect(orb.display).toEqual({ source_url: identity.sourceUrl, home_url: identity.homeUrl });
    for (const example of Object.values(orb.examples)) expect(example.usage.orbs['regauth']).toMatch(new RegExp(`^${orbName(identity)}@\\d+$`));
  });
});
