import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../../testbed/tempdir.ts';

/**
 * A FAKE old node for launcher tests: a bash script that runs the real node with its reported
 * version overridden before any code runs, so the step sees e.g. v16.20.2.
 */
export function oldNodeScript(version = '16.20.2', realNode = process.execPath): string {
  // Removed with the run's scratch (or when the test process exits).
  const preload = join(makeTempDir('regauth-old-node-').path, 'old-node.cjs');
  writeFileSync(preload, `Object.defineProperty(process.versions, "node", { value: ${JSON.stringify(version)} });\nObject.defineProperty(process, "version", { value: ${JSON.stringify(`v${version}`)} });\n`);
  return `#!/bin/bash\nexec ${realNode} -r ${preload} "$@"\n`;
}
