import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDirectory, isInside, readRegularFile, removeOwnedFile, writePrivateFile } from '../../../src/core/private-files.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'regauth-pf-'));

describe('private files', () => {
  it('makes or tightens a directory of ours, and refuses a link without touching its target', async () => {
    const base = dir();
    await ensurePrivateDirectory(join(base, 'new'));
    expect(statSync(join(base, 'new')).mode & 0o777).toBe(0o700);
    mkdirSync(join(base, 'loose'), { mode: 0o755 });
    await ensurePrivateDirectory(join(base, 'loose'));
    expect(statSync(join(base, 'loose')).mode & 0o777).toBe(0o700);
    mkdirSync(join(base, 'target'), { mode: 0o755 });
    chmodSync(join(base, 'target'), 0o755);
    symlinkSync(join(base, 'target'), join(base, 'link'));
    await expect(ensurePrivateDirectory(join(base, 'link'))).rejects.toThrow(/is a symbolic link/);
    expect(statSync(join(base, 'target')).mode & 0o777).toBe(0o755);
  });

  it('writes 0600 files and refuses to write through a link', async () => {
    const base = dir();
    await writePrivateFile(join(base, 'f'), 'one');
    await writePrivateFile(join(base, 'f'), 'two');
    expect(readFileSync(join(base, 'f'), 'utf8')).toBe('two');
    expect(statSync(join(base, 'f')).mode & 0o777).toBe(0o600);
    writeFileSync(join(base, 'users-own'), 'keep');
    symlinkSync(join(base, 'users-own'), join(base, 'l'));
    await expect(writePrivateFile(join(base, 'l'), 'x')).rejects.toThrow(/symbolic link/);
    expect(readFileSync(join(base, 'users-own'), 'utf8')).toBe('keep');
  });

  it('removes only regular files of ours inside the base, never through a link', async () => {
    const base = dir();
    mkdirSync(join(base, 'aws-1'));
    writeFileSync(join(base, 'aws-1', 'credentials'), 's');
    expect(await removeOwnedFile(base, join(base, 'aws-1', 'credentials'))).toEqual({ removed: true });
    expect(existsSync(join(base, 'aws-1'))).toBe(false);
    const outside = dir();
    writeFileSync(join(outside, 'project.txt'), 'keep');
    expect((await removeOwnedFile(base, join(outside, 'project.txt'))).removed).toBe(false);
    expect((await removeOwnedFile(base, `${base}/../${outside.split('/').pop() ?? ''}/project.txt`)).removed).toBe(false);
    symlinkSync(outside, join(base, 'aws-2'));
    expect(await removeOwnedFile(base, join(base, 'aws-2', 'project.txt'))).toMatchObject({ removed: false, why: expect.stringMatching(/symbolic link/) });
    expect(readFileSync(join(outside, 'project.txt'), 'utf8')).toBe('keep');
    expect(isInside('/a/b', '/a/b')).toBe(false);
    expect(isInside('/a/b', 'relative/x')).toBe(false);
  });

  it('reads without following links', async () => {
    const base = dir();
    writeFileSync(join(base, 't'), 'x');
    symlinkSync(join(base, 't'), join(base, 'l'));
    expect(await readRegularFile(join(base, 'l'))).toEqual({ kind: 'wrong-type', what: 'a symbolic link' });
    expect(await readRegularFile(join(base, 'none'))).toEqual({ kind: 'missing' });
  });
});
