import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { LOCK_KEY_ATTRIBUTE } from '../../../state-machines/failover.ts';
import { lockTableName } from '../../naming.ts';

/**
 * The failover lock table of an environment (DR region): one item per running failover (and its
 * approval token), and each database's last acknowledged heartbeat (PrimaryCanary).
 */
export function failoverLockTable(scope: Construct, id: string, environment: string, key: IKey): Table {
  const table = new Table(scope, id, {
    tableName: lockTableName(environment),
    partitionKey: { name: LOCK_KEY_ATTRIBUTE, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    encryption: TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: key,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    // Only the locks of running failovers: nothing to keep once the stack is gone.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  Validations.of(table).acknowledge({
    id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
    reason:
      'Holds only the locks (and approval tokens) of failovers in progress, which mean nothing after they end; point-in-time recovery is on.',
  });
  return table;
}
