import { TLS, type TableBuilder } from './table.ts';

/**
 * Retention: the primary region's prune deletes snapshots of both regions and its dumps; the DR
 * region's prunes only its own copy of the dumps. Both record their deletions.
 */
export function retentionRequests(t: TableBuilder): void {
  for (const side of ['primary', 'dr'] as const) {
    const pr = t.fn(side, 'PruneFunctionRole', `prune (${side})`);
    t.deadLetter(pr, 'DeadLetterQueue');
    const prune = pr.as('prune');
    if (side === 'primary') prune.allow('rds:DescribeAccountAttributes', '*', 'manual snapshot quota');
    for (const db of t.config.databases) {
      const c = prune.of(db.name);
      if (side === 'primary') {
        const inst = db.kind === 'instance';
        c.allow(
          inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
          '*',
          'lists manual snapshots',
        );
        for (const where of ['primary', 'dr'] as const) {
          const snapshot = t.snapshotArn(where, db);
          c.allow(
            inst ? 'rds:DescribeDBSnapshotAttributes' : 'rds:DescribeDBClusterSnapshotAttributes',
            snapshot,
            `a snapshot shared elsewhere is kept (${where})`,
          );
          c.allow(
            inst ? 'rds:DeleteDBSnapshot' : 'rds:DeleteDBClusterSnapshot',
            snapshot,
            `deletes an expired lifeboat snapshot (${where})`,
          );
        }
      }
      t.repo(pr.of(db.name), { catalogAppend: true });
      c.allow('s3:DeleteObject', t.artifactObject(side, db.name), 'deletes an expired dump artifact', TLS);
    }
    t.schedule(
      side,
      'lambda:InvokeFunction',
      `{{${side}:PruneFunction}}`,
      undefined,
      'prune schedule → prune',
    );
    t.appendOnly(pr);
    pr.never(
      'kms:Decrypt',
      t.vaultKey(side),
      'the backup key decrypts only through its services (no direct kms:Decrypt of a dump)',
      {},
    );
  }
  if (t.config.databases.length > 0) {
    t.caller('dr', 'PruneFunctionRole').never(
      'rds:DeleteDBSnapshot',
      t.rds('dr', 'snapshot', 'lifeboat-x-202611230200'),
      "the DR region's prune deletes no snapshot (the primary's prune owns them)",
    );
  }
}
