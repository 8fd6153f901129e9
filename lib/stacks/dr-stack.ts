import { Stack, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BackupVault } from '../constructs/backup-vault.ts';
import { OperationsKey } from '../constructs/operations-key.ts';
import { applyFeatureFlags } from './feature-flags.ts';
import type { LifeboatStackProps } from './props.ts';

/**
 * Everything of an environment in its DR region: the replica of the backup vault (with its own
 * key, which also encrypts the cross-region snapshot copies). It holds nothing that needs the
 * primary region, so it keeps working when that region is gone.
 */
export class DrStack extends Stack {
  public readonly operationsKey: OperationsKey;
  public readonly vault: BackupVault;

  constructor(scope: Construct, id: string, props: LifeboatStackProps) {
    super(scope, id, props);
    applyFeatureFlags(this);
    const { config, environment } = props;
    Tags.of(this).add('lifeboat:environment', environment);
    this.operationsKey = new OperationsKey(this, 'OperationsKey', { environment });
    this.vault = new BackupVault(this, 'Vault', { environment, settings: config.bucket });
  }
}
