/** `lifeboat backup|verify --env`: each command in its own module under deployed/. */

export { backupEnvCommand, backupEnvHelp, backupEnvSyntax, dumpProgress } from './deployed/backup.ts';
export {
  type DeployedClients,
  defaultDeployedClients,
  LostAnswer,
  TargetNotDeployed,
} from './deployed/shared.ts';
export { verifyEnvCommand, verifyEnvHelp, verifyEnvSyntax } from './deployed/verify.ts';

/** `--env` selects the deployed environment; otherwise the command works on a repository. */
export function isEnvInvocation(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--env' || a.startsWith('--env='));
}
