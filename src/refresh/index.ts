/**
 * The refresh engine's three doors; commands import only this file.
 * - serve: a login hands over what its provider minted; the helper serves its registries (and an
 *   AWS profile) from then on, or the login goes on with fixed passwords when it cannot refresh.
 *   (startServing begins its credential-free half while the login mints.)
 * - remove: logout undoes what regauth recorded, the helper's files included.
 * - runHelper: the helper's node half (`node <bundle> --regauth-helper …`), given each cloud's refresh.
 */
export { serveLogin as serve, startServing, mintAlongside, type LoginHandover, type Preparing } from './handover.ts';
export { refreshingCredentialProcess, type Served } from './setup.ts';
export { undoJournal as remove, type Undone } from './teardown.ts';
export { helperMain as runHelper } from './helper.ts';
