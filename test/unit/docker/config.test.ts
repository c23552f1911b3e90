import { mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { credentialHelperFor, dockerConfigDir, readDockerConfig, withConfigLock, writeDockerConfig } from '../../../src/docker/config.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'regauth-dc-'));

describe('docker config', () => {
  it('honours DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigDir({ DOCKER_CONFIG: '/x/y', HOME: '/h' })).toBe('/x/y');
    expect(dockerConfigDir({ HOME: '/h' })).toBe('/h/.docker');
  });

  it('follows docker lookup order for credential helpers', () => {
    expect(credentialHelperFor({ credsStore: 'desktop', credHelpers: { 'a.io': 'gcloud', 'b.io': '' } }, 'a.io')).toBe('gcloud');
    expect(credentialHelperFor({ credsStore: 'desktop', credHelpers: { 'b.io': '' } }, 'b.io')).toBeUndefined();
    expect(credentialHelperFor({ credsStore: 'desktop' }, 'c.io')).toBe('desktop');
  });

  it('refuses a config.json that is a symbolic link, or not JSON', async () => {
    const linked = dir();
    writeFileSync(join(linked, 'elsewhere.json'), '{}');
    symlinkSync(join(linked, 'elsewhere.json'), join(linked, 'config.json'));
    await expect(readDockerConfig(linked)).rejects.toThrow('is a symbolic link');
    const broken = dir();
    writeFileSync(join(broken, 'config.json'), '{"auths": ');
    await expect(readDockerConfig(broken)).rejects.toThrow('is not valid JSON');
  });

  it('writes config.json 0600 and creates a missing directory 0700', async () => {
    const parent = dir();
    const configDir = join(parent, 'new');
    await readDockerConfig(configDir);
    expect(statSync(configDir).mode & 0o777).toBe(0o700);
    await writeDockerConfig(configDir, { auths: {} });
    expect(statSync(join(configDir, 'config.json')).mode & 0o777).toBe(0o600);
  });

  it('serialises concurrent holders of the lock', async () => {
    const configDir = dir();
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withConfigLock(configDir, async () => {
          inside += 1;
          most = Math.max(most, inside);
          await new Promise((resolve) => setImmediate(resolve));
          inside -= 1;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  it('takes over a lock whose owner has died', async () => {
    const configDir = dir();
    writeFileSync(join(configDir, '.regauth.lock'), '999999');
    const result = await withConfigLock(configDir, async () => 'ran', { sleep: async () => undefined, isAlive: () => false });
    expect(result).toBe('ran');
    expect(() => readFileSync(join(configDir, '.regauth.lock'))).toThrow();
  });
});
