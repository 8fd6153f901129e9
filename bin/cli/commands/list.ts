import { S3Client } from '@aws-sdk/client-s3';
import { type BackupSummary, Catalog } from '#core/catalog/catalog.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { InvalidArgument } from '#core/shared/errors.ts';
import { type Repository } from '#core/repository/index.ts';
import { openRepository } from '../repository.ts';
import type { ObjectStorage } from '#core/repository/types.ts';
import { bool, parse, required, str, type Syntax } from '../args.ts';
import { environmentRepository } from '../aws/repository.ts';
import { regionRoleOption } from '../env.ts';
import { backupTable } from '../format.ts';
import { RETRY } from '#core/contracts/retry.ts';

const USAGE =
  'lifeboat list --repo URL | --env NAME [--region primary|dr] [--database NAME] [--s3-endpoint URL] [--json]';

export const listHelp = `Lists the catalog, newest first, with each backup's state and verification.

With --env it reads the catalog in the environment's backup bucket: the primary region's, or the DR
region's replica when the primary region cannot be read (--region picks one).

usage: ${USAGE}`;

export const listSyntax = {
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    env: { type: 'string' },
    region: { type: 'string' },
    database: { type: 'string' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function listCommand(
  argv: string[],
  s3: (region: string) => S3Client = (region) => new S3Client({ region, ...RETRY.brief }),
): Promise<number> {
  const p = parse(USAGE, argv, listSyntax.options);
  const database = str(p, 'database');
  let repository: Repository;
  let configured: string[] | undefined;
  const envName = str(p, 'env');
  if (envName !== undefined) {
    if (str(p, 'repo')) throw new InvalidArgument(`pass --env or --repo, not both\nusage: ${USAGE}`);
    const found = await environmentRepository(
      envName,
      s3,
      (text) => process.stderr.write(`note: ${text}\n`),
      regionRoleOption(str(p, 'region')),
    );
    configured = found.databases;
    repository = found.repository;
    if (!bool(p, 'json')) process.stderr.write(`${repository.url} (${found.region})\n`);
  } else {
    if (str(p, 'region')) throw new InvalidArgument(`--region goes with --env\nusage: ${USAGE}`);
    repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
      s3Endpoint: str(p, 's3-endpoint'),
    });
    await repository.check();
  }
  const backups = await new Catalog(repository).list({ database });
  const tiers = await artifactTiers(repository, backups);
  if (bool(p, 'json')) {
    const out = backups.map(({ records: _records, ...rest }) => ({
      ...rest,
      ...(tiers?.has(rest.id) ? { storage: tiers.get(rest.id) } : {}),
    }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (backups.length === 0) {
    // Databases found by tag are cataloged too, so an unconfigured name is not refused; but a typo is named.
    const hint =
      database && configured && !configured.includes(database)
        ? ` (configured databases: ${configured.join(', ')})`
        : '';
    process.stdout.write(`no backups in ${repository.url}${database ? ` for ${database}` : ''}${hint}\n`);
  } else {
    process.stdout.write(`${backupTable(backups, new Date(), tiers ?? undefined)}\n`);
  }
  return 0;
}

/**
 * Where each completed dump's artifact is stored (S3 storage class, archived or restored), read
 * with HeadObject a few at a time; null where the repository has no tiers. An artifact that
 * cannot be looked up is left out (the NOTE column and `verify` say why it cannot be read).
 */
async function artifactTiers(
  repository: Repository,
  backups: readonly BackupSummary[],
): Promise<Map<string, ObjectStorage> | null> {
  if (!repository.storage) return null;
  const dumps = backups.filter((b) => b.state === 'completed' && b.manifest?.kind === 'logical-dump');
  const out = new Map<string, ObjectStorage>();
  for (let i = 0; i < dumps.length; i += 8) {
    await Promise.all(
      dumps.slice(i, i + 8).map(async (b) => {
        const key = (b.manifest as DumpManifest).artifact.key;
        const found = await repository.storage!(key).catch(() => null);
        if (found) out.set(b.id, found);
      }),
    );
  }
  return out;
}
