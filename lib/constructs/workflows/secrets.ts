import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { RegionalSecret } from '../../recovery.ts';

/**
 * secretsmanager:GetSecretValue on exactly the configured secrets of the region, and the secrets'
 * customer-managed keys through Secrets Manager only.
 */
export function grantSecrets(role: IRole, secrets: readonly RegionalSecret[], region: string): void {
  if (secrets.length === 0) return;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: secrets.map((s) => s.secretArn),
    }),
  );
  const keys = [...new Set(secrets.flatMap((s) => (s.kmsKeyArn ? [s.kmsKeyArn] : [])))];
  if (keys.length > 0) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: keys,
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
  }
}
