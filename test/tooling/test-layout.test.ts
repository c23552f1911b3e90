import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/** The test layout of README's Development section: who may import what, and where a unit test lives. */
const root = resolve(import.meta.dirname, '..', '..');

async function refusals(file: string, from: string): Promise<number> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(`import * as probe from '${from}';\nexport const used = probe;\n`, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').length;
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

describe('the test layout', () => {
  it.each([
    ['scripts/bench/probe.ts', '../../test/support/engine.ts'],
    ['scripts/probe.ts', '../test/support/tempdir.ts'],
    ['testbed/probe.ts', '../scripts/build.ts'],
    ['testbed/aws/probe.ts', '../../test/support/canary.ts'],
    ['test/unit/core/probe.ts', '../../../scripts/build.ts'],
  ])('%s may not import %s', async (file, from) => {
    expect(await refusals(file, from)).toBe(1);
  });

  it.each([
    ['scripts/bench/probe.ts', '../../testbed/engine.ts'],
    ['testbed/probe.ts', '../src/core/units.ts'],
    ['test/tooling/probe.ts', '../../scripts/build.ts'],
    ['test/unit/core/probe.ts', '../../../testbed/tempdir.ts'],
  ])('%s may import %s', async (file, from) => {
    expect(await refusals(file, from)).toBe(0);
  });

  it('puts every unit test beside the path of the src module it tests', () => {
    const sources = new Set(filesUnder('src').map((file) => file.replace(/^src\//, '').replace(/\.ts$/, '')));
    const strays = filesUnder('test/unit')
      .map((file) => file.replace(/^test\/unit\//, '').replace(/(\.[a-z-]+)?\.test\.ts$/, ''))
      .filter((module) => !sources.has(module));
    expect(strays).toEqual([]);
  });
});
