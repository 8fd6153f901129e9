import { Catalog } from '#core/catalog.ts';
import { openRepository } from '#core/repository/index.ts';
import { bool, parse, required, str } from '../args.ts';
import { backupTable } from '../format.ts';

const USAGE = 'lifeboat list --repo URL [--database NAME] [--s3-endpoint URL] [--json]';

export const listHelp = `Lists the catalog, newest first, with each backup's state and verification.

usage: ${USAGE}`;

export async function listCommand(argv: string[]): Promise<number> {
  const p = parse(USAGE, argv, {
    repo: { type: 'string' },
    database: { type: 'string' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
  });
  const repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
    s3Endpoint: str(p, 's3-endpoint'),
  });
  await repository.check();
  const backups = await new Catalog(repository).list({ database: str(p, 'database') });
  if (bool(p, 'json')) {
    const out = backups.map(({ records: _records, ...rest }) => rest);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (backups.length === 0) {
    process.stdout.write(
      `no backups in ${repository.url}${str(p, 'database') ? ` for ${str(p, 'database')}` : ''}\n`,
    );
  } else {
    process.stdout.write(`${backupTable(backups)}\n`);
  }
  return 0;
}
