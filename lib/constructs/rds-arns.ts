import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { Database } from '../config/schema.ts';
import { SNAPSHOT_PREFIX } from '../naming.ts';

/** ARNs of RDS resources in one region of the stack's account. */
export class RdsArns {
  private readonly prefix: string;

  constructor(scope: IConstruct, region?: string) {
    const stack = Stack.of(scope);
    this.prefix = `arn:${stack.partition}:rds:${region ?? stack.region}:${stack.account}`;
  }

  /** The DB instance or cluster itself. */
  database(db: Pick<Database, 'kind' | 'identifier'>): string {
    return `${this.prefix}:${db.kind === 'instance' ? 'db' : 'cluster'}:${db.identifier}`;
  }

  /** Every DB instance (`instance`) or cluster (`cluster`) of the region. */
  allDatabases(kind: Database['kind']): string {
    return `${this.prefix}:${kind === 'instance' ? 'db' : 'cluster'}:*`;
  }

  /** Every snapshot lifeboat names (`lifeboat-...`) of one kind. */
  lifeboatSnapshots(kind: Database['kind']): string {
    return `${this.prefix}:${kind === 'instance' ? 'snapshot' : 'cluster-snapshot'}:${SNAPSHOT_PREFIX}*`;
  }
}
