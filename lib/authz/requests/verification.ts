import type { TableBuilder } from './table.ts';

/** Verification of each dump: verify-backup (Lambda) or a Fargate verify task for `large` databases. */
export function verificationRequests(t: TableBuilder): void {
  const vb = t.fn('primary', 'VerifyBackupFunctionRole', 'verify-backup');
  t.deadLetter(vb, 'DeadLetterQueue');
  for (const db of t.config.databases) {
    const policy = db.policySettings;
    if (!policy.dump) continue;
    const verifier = db.large
      ? t.caller('primary', `VerifyTask${db.name}JobTaskDefinitionTaskRole`, `verify task of ${db.name}`)
      : vb;
    t.repo(verifier.of(db.name), { catalogAppend: true, artifactRead: true });
    if (t.slackSecret('primary')) t.publish(verifier);
    if (db.large) t.fargateJob(`VerifyTask${db.name}Job`, db.name, 'verify task');
    if (!policy.verification) continue;
    if (db.large) {
      t.schedule(
        'primary',
        'states:StartExecution',
        `{{primary:VerifyTask${db.name}JobStateMachine}}`,
        db.name,
        'verification schedule → Fargate verification workflow',
      );
    } else {
      t.schedule(
        'primary',
        'lambda:InvokeFunction',
        '{{primary:VerifyBackupFunction}}',
        db.name,
        'verification schedule → verify-backup',
      );
    }
  }
  t.appendOnly(vb);
}
