import type { S3Client } from '@aws-sdk/client-s3';
import { LifeboatError, RepositoryNotFound } from '#core/shared/errors.ts';
import { type Repository, S3Repository } from '#core/repository/index.ts';
import type { DEFAULT_TARGETS } from '#core/catalog/status.ts';
import { type DeployedEnvironment, type RegionRole, resolveEnvironment } from '../env.ts';

export interface EnvironmentRepository {
  readonly repository: Repository;
  readonly env: DeployedEnvironment;
  /** The region whose bucket is read. */
  readonly role: RegionRole;
  readonly region: string;
  readonly databases: string[];
  /** The environment's alarm thresholds, as `lifeboat status` targets. */
  readonly targets: Partial<typeof DEFAULT_TARGETS>;
}

/**
 * The environment's catalog: the primary bucket, or its DR replica when the primary region cannot
 * be read. With `role` only that region's bucket (`--region primary|dr`).
 */
export async function environmentRepository(
  envName: string,
  s3: (region: string) => S3Client,
  note: (text: string) => void,
  role?: RegionRole,
): Promise<EnvironmentRepository> {
  const env = resolveEnvironment(envName);
  const open = (r: RegionRole) =>
    new S3Repository({ client: s3(env.regions[r]), bucket: env.buckets[r], prefix: '' });
  const targets = {
    backupAgeWarningHours: env.alarms.backupAgeWarnHours,
    backupAgeCriticalHours: env.alarms.backupAgeCritHours,
    // The verified-age warning alarm's threshold; where that alarm is off, the command's default.
    ...(env.alarms.verifiedAgeWarnHours === null
      ? {}
      : { verifiedAgeTargetHours: env.alarms.verifiedAgeWarnHours }),
    replicaLagCriticalSeconds: env.alarms.replicaLagCritSeconds,
  };
  const databases = env.databases.map((d) => d.name);
  const found = (r: RegionRole, repository: Repository): EnvironmentRepository => ({
    repository,
    env,
    role: r,
    region: env.regions[r],
    databases,
    targets,
  });
  if (role) {
    const repository = open(role);
    await repository.check();
    return found(role, repository);
  }
  const primary = open('primary');
  try {
    await primary.check();
    return found('primary', primary);
  } catch (err) {
    if (err instanceof RepositoryNotFound) throw err;
    const dr = open('dr');
    await dr.check().catch((drErr: unknown) => {
      throw new LifeboatError(
        `neither region's backup bucket can be read: ${env.regions.primary}: ${(err as Error).message}; ${env.regions.dr}: ${(drErr as Error).message}`,
      );
    });
    note(
      `the primary region's bucket cannot be read (${(err as Error).message}); reading the DR replica in ${env.regions.dr}`,
    );
    return found('dr', dr);
  }
}
