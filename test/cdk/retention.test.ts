import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENT_METRIC, METRICS_NAMESPACE } from '../../functions/core/shared/metrics.ts';
import { ENV as PRUNE_ENV } from '../../functions/prune/env.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  type Statement,
  statementsOfRole,
} from './template-helpers.ts';

// staging protects an RDS instance (orders) and a large Aurora cluster (ledger); discovery is on
// here so that discovery's alarm is part of the stack.
const input = { ...ENVIRONMENTS.staging!, discovery: { tagKey: 'lifeboat:policy' } };
const config = loadEnvironmentConfig('staging', { staging: input });

function variablesOf(template: Template, description: string): Record<string, unknown> {
  const fn = onlyResource(template, 'AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp(description),
  });
  return template.toJSON().Resources[fn].Properties.Environment.Variables;
}

function statementsOf(template: Template, description: string): Statement[] {
  const fn = onlyResource(template, 'AWS::Lambda::Function', {
    Description: Match.stringLikeRegexp(description),
  });
  return statementsOfRole(template, roleOfFunction(template, fn));
}

/** Object resources of the statements that allow `action`, as "<bucket>/<prefix>" strings. */
function objectsAllowed(statements: Statement[], action: string): string[] {
  return statements
    .filter((s) => actionsOf(s).includes(action))
    .flatMap(resourcesOf)
    .map((r) => {
      const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      return join ? join[1].map((p) => (typeof p === 'string' ? p : '<bucket>')).join(join[0]) : String(r);
    });
}

function alarmsOn(template: Template, metricName: string) {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm'))
    .map((a) => a.Properties)
    .filter((p) => p.MetricName === metricName);
}

describe('retention in both regions (staging)', () => {
  let env: SynthesizedEnvironment;

  beforeAll(() => {
    env = synthesizeEnvironment('staging', input);
  });
  afterAll(() => env.dispose());

  it('has no unacknowledged cdk-nag finding', () => {
    expect(env.violations).toEqual([]);
  });

  describe('deletes do not travel to the DR region', () => {
    it('replicates objects, never delete markers', () => {
      env.primaryTemplate.hasResourceProperties('AWS::S3::Bucket', {
        ReplicationConfiguration: {
          Rules: [Match.objectLike({ DeleteMarkerReplication: { Status: 'Disabled' } })],
        },
      });
    });

    it('gives the replication role no s3:ReplicateDelete', () => {
      const policies = Object.values(env.primaryTemplate.findResources('AWS::IAM::Policy'));
      const actions = policies.flatMap((p) =>
        (p.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf),
      );
      expect(actions).toContain('s3:ReplicateObject');
      expect(actions).not.toContain('s3:ReplicateDelete');
    });

    it('keeps the DR copy under its own Object Lock retention and lifecycle', () => {
      env.drTemplate.hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: {
            DefaultRetention: { Mode: config.bucket.objectLockMode, Days: config.bucket.objectLockDays },
          },
        },
        LifecycleConfiguration: {
          Rules: Match.arrayWith([
            Match.objectLike({
              NoncurrentVersionExpiration: { NoncurrentDays: config.bucket.noncurrentVersionExpirationDays },
            }),
          ]),
        },
      });
    });
  });

  describe("the DR region's own prune", () => {
    it('prunes only the dumps of its own bucket, with the same retention, on the same schedule', () => {
      const variables = variablesOf(env.drTemplate, "retention of this region's copy of the dumps");
      const primary = variablesOf(env.primaryTemplate, 'daily retention of dumps and snapshots');

      expect(variables[PRUNE_ENV.scope]).toBe('dumps');
      expect(variables[PRUNE_ENV.drRegion]).toBeUndefined();
      expect(JSON.parse(variables[PRUNE_ENV.policies] as string)).toEqual(
        JSON.parse(primary[PRUNE_ENV.policies] as string),
      );
      expect(variables[PRUNE_ENV.bucket]).toEqual({ Ref: expect.any(String) });
      env.drTemplate.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: config.pruneSchedule.cron,
        Target: Match.objectLike({ Input: JSON.stringify({ dryRun: config.pruneDryRun }) }),
      });
    });

    it('can touch no RDS snapshot, and delete only artifacts, never a catalog document', () => {
      const statements = statementsOf(env.drTemplate, "retention of this region's copy of the dumps");
      const actions = statements.flatMap(actionsOf);

      expect(actions.filter((a) => a.startsWith('rds:'))).toEqual([]);
      expect(objectsAllowed(statements, 's3:DeleteObject')).toEqual(['<bucket>/artifacts/*']);
      expect(objectsAllowed(statements, 's3:PutObject').sort()).toEqual(['<bucket>/catalog/*']);
      expect(
        actions.filter((a) => /DeleteObjectVersion|BypassGovernance|PutObjectRetention/.test(a)),
      ).toEqual([]);
    });
  });

  describe("the primary region's prune", () => {
    it('caps deletions across databases, per run and per day', () => {
      const variables = variablesOf(env.primaryTemplate, 'daily retention of dumps and snapshots');
      expect(variables[PRUNE_ENV.maxDeletionsPerRun]).toBe(String(config.pruneMaxDeletionsPerRun));
      expect(variables[PRUNE_ENV.maxDeletionsPerDay]).toBe(String(config.pruneMaxDeletionsPerDay));
    });

    it('may read who a lifeboat snapshot is shared with, in both regions', () => {
      const statements = statementsOf(env.primaryTemplate, 'daily retention of dumps and snapshots');
      for (const action of ['rds:DescribeDBSnapshotAttributes', 'rds:DescribeDBClusterSnapshotAttributes']) {
        const resources = statements.filter((s) => actionsOf(s).includes(action)).flatMap(resourcesOf);
        expect(resources, action).toHaveLength(2);
        expect(JSON.stringify(resources)).toMatch(/lifeboat-\*/);
      }
    });

    it('deletes only artifacts in the bucket, never a catalog document', () => {
      const statements = statementsOf(env.primaryTemplate, 'daily retention of dumps and snapshots');
      expect(objectsAllowed(statements, 's3:DeleteObject')).toEqual(['<bucket>/artifacts/*']);
    });
  });

  describe('alarms', () => {
    it('on a database prune did not judge, and on a prune error, in each region', () => {
      for (const template of [env.primaryTemplate, env.drTemplate]) {
        for (const metric of [ENVIRONMENT_METRIC.pruneRefused, ENVIRONMENT_METRIC.pruneErrors]) {
          const alarms = alarmsOn(template, metric);
          expect(alarms, metric).toHaveLength(1);
          expect(alarms[0]).toMatchObject({
            Namespace: METRICS_NAMESPACE,
            Dimensions: [{ Name: 'Environment', Value: 'staging' }],
            Threshold: 1,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
            TreatMissingData: 'notBreaching',
          });
          expect(alarms[0]!.AlarmActions).toHaveLength(1);
        }
      }
    });

    it('on a database discovery refused because its catalog name is in use', () => {
      const alarms = alarmsOn(env.primaryTemplate, ENVIRONMENT_METRIC.seriesConflicts);
      expect(alarms).toHaveLength(1);
      expect(alarms[0]).toMatchObject({
        Threshold: 1,
        Dimensions: [{ Name: 'Environment', Value: 'staging' }],
      });
    });
  });
});
