import { describe, expect, it } from 'vitest';
import { awsConfigFile, findProfileSection, placeSection, profileNameProblem, profileSection, removeSection } from '../../../../src/clouds/aws/profile.ts';

describe('the exported AWS profile section', () => {
  const own = '[default]\nregion = eu-west-1\n\n[profile regauth] ; mine\nregion = ap-south-1\n\n[profile deploy]\nsource_profile = regauth\n';
  const section = profileSection('regauth', { region: 'us-east-1', credential_process: '/bin/cat /h/.regauth/aws/regauth.json' });

  it('takes the place of the job\'s own section of that name and gives it back byte for byte', () => {
    const placed = placeSection(own, 'regauth', section);
    expect(placed.previous).toBe('[profile regauth] ; mine\nregion = ap-south-1\n');
    expect(placed.text).toBe(`[default]\nregion = eu-west-1\n\n${section}\n[profile deploy]\nsource_profile = regauth\n`);
    expect(removeSection(placed.text, 'regauth', placed.separator, placed.previous)).toEqual({ text: own, outcome: 'restored' });
  });

  it('is appended to a file without it and removed without a trace, whatever the file\'s last byte', () => {
    for (const text of ['', '[default]\nregion = eu-west-1\n', '[default]\nregion = eu-west-1', '[default]\n\n\n']) {
      const placed = placeSection(text, 'ci', profileSection('ci', { region: 'us-east-1' }));
      expect(findProfileSection(placed.text, 'ci')).toBeDefined();
      expect(removeSection(placed.text, 'ci', placed.separator, undefined)).toEqual({ text, outcome: 'removed' });
    }
  });

  it('writes into the file the AWS tools read: AWS_CONFIG_FILE (a leading ~ expanded as they do), else ~/.aws/config', () => {
    expect(awsConfigFile({ HOME: '/h' })).toBe('/h/.aws/config');
    expect(awsConfigFile({ HOME: '/h', AWS_CONFIG_FILE: '~/ci/aws-config' })).toBe('/h/ci/aws-config');
    expect(awsConfigFile({ HOME: '/h', AWS_CONFIG_FILE: '/etc/ci/aws' })).toBe('/etc/ci/aws');
  });

  it('leaves a section without regauth\'s marker alone, and names only profiles it can write', () => {
    expect(removeSection(own, 'regauth', '', undefined).outcome).toBe('not-ours');
    expect(profileNameProblem('regauth')).toBeUndefined();
    expect(profileNameProblem('ci-42.prod_x')).toBeUndefined();
    for (const bad of ['default', '', 'a b', 'x]\n[y', '-x', 'a'.repeat(65)]) expect(profileNameProblem(bad)).toBeDefined();
  });
});
