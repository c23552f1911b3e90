import { constants, promises as fs } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether an executable named `name` is on `PATH`, without starting it. */
export async function isOnPath(name: string, path: string | undefined): Promise<boolean> {
  for (const entry of (path ?? '').split(delimiter)) {
    if (!entry) continue;
    try {
      await fs.access(join(entry, name), constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}
