import { constants, promises as fs } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable file named `name` on `PATH`, without starting it. */
export async function findOnPath(name: string, path: string | undefined): Promise<string | undefined> {
  for (const entry of (path ?? '').split(delimiter)) {
    if (!entry) continue;
    const candidate = join(entry, name);
    try {
      await fs.access(candidate, constants.X_OK);
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Whether an executable named `name` is on `PATH`, without starting it. */
export async function isOnPath(name: string, path: string | undefined): Promise<boolean> {
  return (await findOnPath(name, path)) !== undefined;
}
