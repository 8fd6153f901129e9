import { reportKeys } from '../../../functions/core/report/report-publish.ts';
import { backupKeyAlias } from '../../naming.ts';
import { TLS, type TableBuilder } from './table.ts';
import { CATALOG_PREFIX } from '../../../functions/core/contracts/index.ts';

/**
 * The DR evidence report (functions/report, functions/core/report-publish.ts): on its schedule it
 * lists and reads both regions' catalogs (the union), writes the report's JSON and HTML under
 * `reports/` of the primary region's bucket (SSE-KMS by the bucket's default), signs a link to the
 * HTML (the GET it authorizes is the role's), and announces it on the topic. It deletes nothing
 * and writes nothing in the DR region.
 */
export function reportRequests(t: TableBuilder): void {
  const { config, environment } = t;
  const r = t.fn('primary', 'ReportFunctionRole', 'report');
  t.deadLetter(r, 'DeadLetterQueue');
  t.schedule(
    'primary',
    'lambda:InvokeFunction',
    '{{primary:ReportFunction}}',
    undefined,
    'report schedule → report',
  );

  const drAlias = { 'kms:ResourceAliases': [backupKeyAlias(environment)] };
  for (const side of ['primary', 'dr'] as const) {
    // The DR bucket's objects are encrypted with the DR backup key, which the report knows by alias.
    const keyContext = side === 'primary' ? t.via('s3', side) : { ...t.via('s3', side), ...drAlias };
    const decrypt = (object: string, what: string) =>
      r.allow('kms:Decrypt', t.vaultKey(side), `SSE-KMS of ${what} (${side})`, {
        ...keyContext,
        'kms:EncryptionContext:aws:s3:arn': object,
      });
    r.allow('s3:ListBucket', t.bucketArn(side), `lists the whole catalog (${side})`, {
      ...TLS,
      's3:prefix': CATALOG_PREFIX,
    });
    for (const db of config.databases) {
      const record = t.catalogObject(side, db.name);
      const failover = `${t.bucketArn(side)}/catalog/${encodeURIComponent(db.name)}/_failovers/20261123T020000Z.json`;
      const c = r.of(db.name);
      c.allow('s3:GetObject', record, `reads catalog records (${side})`, TLS);
      c.allow('s3:GetObject', failover, `reads failover records (${side})`, TLS);
      decrypt(record, 'a catalog record');
    }
  }

  const { htmlKey, jsonKey } = reportKeys(environment, new Date('2026-11-23T06:00:00Z'));
  const bucket = t.bucketArn('primary');
  for (const key of [jsonKey, htmlKey]) {
    const object = `${bucket}/${key}`;
    r.allow('s3:PutObject', object, 'writes the report under reports/', TLS);
    r.allow('kms:GenerateDataKey', t.vaultKey('primary'), 'SSE-KMS of the report', {
      ...t.via('s3', 'primary'),
      'kms:EncryptionContext:aws:s3:arn': object,
    });
  }
  // The link it signs with its own credentials: the reader's GET is the role's request.
  const html = `${bucket}/${htmlKey}`;
  r.allow('s3:GetObject', html, 'the signed link reads the HTML', TLS);
  r.allow('kms:Decrypt', t.vaultKey('primary'), 'the signed link reads the HTML (SSE-KMS)', {
    ...t.via('s3', 'primary'),
    'kms:EncryptionContext:aws:s3:arn': html,
  });
  if (config.report.linkSignerSecretArn) {
    t.secret(r, config.report.linkSignerSecretArn, undefined, 'reads the key the link is signed with');
  }
  if (t.slackSecret('primary')) t.publish(r);

  // Reads the catalogs and writes reports/, nothing else.
  t.appendOnly(r);
  const dr = t.bucketArn('dr');
  r.never('s3:DeleteObject', html, 'the report deletes nothing (lifecycle expires old reports)', TLS);
  r.never('s3:PutObject', t.catalogObject('primary', 'orders'), 'the report writes under reports/ only', TLS);
  r.never('s3:PutObject', `${dr}/${htmlKey}`, 'the report writes nothing in the DR region', TLS);
  r.never('s3:GetObject', t.artifactObject('primary', 'orders'), 'the report reads no dump', TLS);
  r.never('s3:GetObject', t.artifactObject('dr', 'orders'), 'the report reads no dump (DR copy)', TLS);
  r.never(
    'kms:Decrypt',
    t.vaultKey('dr'),
    'the DR backup key decrypts for the report only through S3 (no direct kms:Decrypt)',
    drAlias,
  );
  r.never('kms:GenerateDataKey', t.vaultKey('dr'), 'the report encrypts nothing with the DR key', {
    ...t.via('s3', 'dr'),
    ...drAlias,
  });
}
