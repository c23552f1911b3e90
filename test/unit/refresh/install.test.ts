import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installHelper, planInstall, type PathDirFacts } from '../../../src/refresh/install.ts';

describe('install route', () => {
  const dir = (path: string, extra: Partial<PathDirFacts> = {}): PathDirFacts => ({ dir: path, kind: 'directory', ownedByUser: true, sharedWritable: false, writable: true, ...extra });
  const context = { home: '/home/circleci', isRoot: false, sudo: false, fallbackDir: '/home/circleci/.regauth/helper/bin' };
  it('prefers a directory of the user under $HOME on PATH, created when PATH names it', () => {
    expect(planInstall([dir('/usr/local/bin', { ownedByUser: false }), dir('/home/circleci/bin')], context)).toEqual({ route: 'user-path', dir: '/home/circleci/bin' });
    expect(planInstall([{ dir: '/home/circleci/.local/bin', ownedByUser: false, sharedWritable: false, writable: false }], context)).toEqual({ route: 'user-path', dir: '/home/circleci/.local/bin' });
  });
  it('never picks a link, a directory others can write, or $HOME itself', () => {
    const facts = [dir('/home/circleci/bin', { kind: 'link' }), dir('/home/circleci/tools', { sharedWritable: true }), dir('/home/circleci')];
    expect(planInstall(facts, context).route).toBe('bash-env');
  });
  it('uses a system directory for root, sudo -n for others, and regauth\'s own directory last', () => {
    const system = [dir('/usr/local/bin', { ownedByUser: false, writable: false })];
    expect(planInstall([dir('/usr/local/bin')], { ...context, isRoot: true })).toEqual({ route: 'system-path', dir: '/usr/local/bin' });
    expect(planInstall(system, { ...context, sudo: true })).toEqual({ route: 'sudo', dir: '/usr/local/bin' });
    expect(planInstall(system, context)).toEqual({ route: 'bash-env', dir: context.fallbackDir });
  });
});

describe('installHelper and the journal', () => {
  it('the helper\'s install is on record before the program is written (a step killed in between leaves it for logout)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regauth-install-'));
    const bin = join(dir, 'bin');
    const source = join(dir, 'source');
    writeFileSync(source, '#!/bin/bash\n# regauth credential helper\n', { mode: 0o700 });
    const seen: { path: string; existed: boolean }[] = [];
    const run = async () => ({ exitCode: 1, stdout: '', stderr: '' });
    const installed = await installHelper({ HOME: dir, PATH: `${bin}:/usr/bin` }, run, source, join(dir, '.regauth', 'helper'), async (path) => {
      seen.push({ path, existed: existsSync(path) });
    });
    expect(seen).toEqual([{ path: installed.path, existed: false }]);
    expect(existsSync(installed.path)).toBe(true);
  });
});
