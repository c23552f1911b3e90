/**
 * The refresh engine's three doors; commands import only this file.
 * - serve: a login hands its registries (and an AWS profile) to docker-credential-regauth.
 * - remove: logout undoes what regauth recorded, the helper's files included.
 * - runHelper: the helper's node half (`node <bundle> --regauth-helper …`).
 * The rest is what a login needs around `serve`: whether it can refresh, docker's environment
 * right after, the lines it prints, and each cloud's refresher for `runHelper`.
 */
export {
  serveThroughHelper as serve,
  planRefresh,
  dockerEnvWithHelper,
  announceServed,
  refreshingCredentialProcess,
  type Served,
  type ServeInput,
} from './setup.ts';
export { undoJournal as remove, type Undone } from './teardown.ts';
export { helperMain as runHelper } from './helper.ts';
export { awsSettings, refreshAwsEcr } from './aws-ecr.ts';
export { gcpSettings, refreshGcp } from './gcp.ts';
