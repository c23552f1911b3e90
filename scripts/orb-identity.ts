/**
 * npm run orb-identity: writes package.json's orb namespace and URLs into orb/@orb.yml's display,
 * every example's `orbs:` line and README.md's snippets (the build stamps the packed orb itself).
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { orbName, readOrbIdentity, writeOrbIdentity } from './lib/orb-identity.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const identity = readOrbIdentity(root);
const changed = writeOrbIdentity(root, identity);
console.log(`regauth: orb identity ${orbName(identity)} (${identity.sourceUrl}): ${changed.length === 0 ? 'every file already agrees' : `wrote ${changed.join(', ')}`}`);
