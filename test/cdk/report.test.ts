import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScheduledReportSettings } from '../../functions/core/report/report-publish.ts';
import { ENV } from '../../functions/report/env.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { reportSettings } from '../../lib/config/report.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  type Statement,
  statementsOfRole,
} from './template-helpers.ts';

/** A resource as text, tokens named: "<bucket>/reports/*", "arn:aws:s3:::lifeboat-dev-…/catalog/*". */
function text(resource: unknown): string {
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if ((resource as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt']) return '<bucket>';
  if (!join) return typeof resource === 'string' ? resource : JSON.stringify(resource);
  return join[1]
    .map((p) => {
      if (typeof p === 'string') return p;
      const ref = (p as { Ref?: string }).Ref;
      if (ref === 'AWS::Partition') return 'aws';
      return ref?.startsWith('AWS::') ? `<${ref.slice(5)}>` : '<bucket>';
    })
    .join(join[0]);
}

const allowed = (statements: Statement[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action)).flatMap((s) => resourcesOf(s).map(text));

describe.each(Object.keys(ENVIRONMENTS))('the scheduled report (%s)', (environment) => {
  const config = loadEnvironmentConfig(environment);
  let env: SynthesizedEnvironment;
  let fn: string;
  let statements: Statement[];

  beforeAll(() => {
    env = synthesizeEnvironment(environment);
    const template = env.primaryTemplate; // throws with the findings if cdk-nag has any
    fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('DR evidence report'),
    });
    statements = statementsOfRole(template, roleOfFunction(template, fn));
  });
  afterAll(() => env.dispose());

  it('synthesizes with no cdk-nag finding', () => {
    expect(env.violations).toEqual([]);
  });

  it("runs on the configured schedule, with the environment's targets and retention", () => {
    const template = env.primaryTemplate;
    const schedule = onlyResource(template, 'AWS::Scheduler::Schedule', {
      Description: Match.stringLikeRegexp('DR evidence report'),
    });
    const props = template.toJSON().Resources[schedule].Properties;
    expect(props.ScheduleExpression).toBe(config.report.schedule.cron);
    expect(props.ScheduleExpressionTimezone).toBe(config.report.schedule.timeZone);
    expect(JSON.stringify(props.Target.Arn)).toContain(fn);
    const variables = template.toJSON().Resources[fn].Properties.Environment.Variables;
    const settings = JSON.parse(variables[ENV.settings]) as ScheduledReportSettings;
    const expected = reportSettings(config);
    expect(settings).toEqual({
      environment,
      primaryRegion: config.primaryRegion,
      drRegion: config.drRegion,
      periodDays: expected.periodDays,
      linkExpiryDays: 7,
      targets: expected.targets,
      retention: expected.retention,
      databases: config.databases.map((d) => d.name),
    });
    expect(variables[ENV.drBucket]).toBe(`lifeboat-${environment}-${config.account}-${config.drRegion}`);
    // The summary goes to Slack only where Slack is configured.
    expect('LIFEBOAT_EVENTS_TOPIC_ARN' in variables).toBe(
      config.notifications.slackWebhookSecretArn !== undefined,
    );
  });

  it("reads both regions' catalogs, writes under reports/ only, and deletes nothing", () => {
    const dr = `arn:aws:s3:::lifeboat-${environment}-${config.account}-${config.drRegion}`;
    expect(allowed(statements, 's3:PutObject')).toEqual(['<bucket>/reports/*']);
    expect(allowed(statements, 's3:GetObject').sort()).toEqual(
      ['<bucket>/catalog/*', `${dr}/catalog/*`, '<bucket>/reports/*'].sort(),
    );
    expect(allowed(statements, 's3:ListBucket')).toEqual(['<bucket>', dr]);
    const all = statements.flatMap(actionsOf);
    for (const forbidden of [
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:BypassGovernanceRetention',
      's3:*',
      'kms:*',
    ]) {
      expect(all).not.toContain(forbidden);
    }
    // The DR bucket's key: decrypt only, and only a key carrying lifeboat's alias.
    const drKey = statements.find((s) =>
      allowed([s], 'kms:Decrypt').some((r) => r.includes(`:kms:${config.drRegion}:`)),
    );
    expect(actionsOf(drKey!)).toEqual(['kms:Decrypt']);
    expect(JSON.stringify(drKey!.Condition)).toContain(`alias/lifeboat-${environment}`);
    // Through S3 of the DR region only: the role cannot decrypt a data key it holds directly.
    expect(drKey!.Condition).toMatchObject({
      StringEquals: { 'kms:ViaService': `s3.${config.drRegion}.amazonaws.com` },
    });
    // No report-link key configured: no secret to read.
    expect(all).not.toContain('secretsmanager:GetSecretValue');
  });
});

describe('the scheduled report with a report-link key (dev)', () => {
  const signer = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/report-link-AbCdEf';
  let env: SynthesizedEnvironment;

  beforeAll(() => {
    env = synthesizeEnvironment('dev', { ...ENVIRONMENTS.dev!, report: { linkSignerSecretArn: signer } });
  });
  afterAll(() => env.dispose());

  it('may read that one secret, and tells the function where it is', () => {
    const template = env.primaryTemplate;
    const fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('DR evidence report'),
    });
    const statements = statementsOfRole(template, roleOfFunction(template, fn));
    expect(allowed(statements, 'secretsmanager:GetSecretValue')).toEqual([signer]);
    expect(template.toJSON().Resources[fn].Properties.Environment.Variables[ENV.linkSigner]).toBe(signer);
    expect(env.violations).toEqual([]);
  });
});
