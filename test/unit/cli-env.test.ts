import { describe, expect, it } from 'vitest';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { dumpEvent } from '../../lib/events.ts';
import {
  databaseOf,
  dumpTargetParameter,
  regionRoleOption,
  repositoryUrl,
  resolveEnvironment,
  verifyTargetParameter,
  workflowParameter,
  workflowRegion,
} from '../../bin/cli/env.ts';

describe('--env NAME resolves a deployed environment from the configuration', () => {
  it('finds the buckets of both regions, the stacks and the databases of the configured environment', () => {
    const env = resolveEnvironment('prod');
    expect(env.regions).toEqual({ primary: 'us-east-1', dr: 'us-west-2' });
    expect(env.buckets).toEqual({
      primary: 'lifeboat-prod-333333333333-us-east-1',
      dr: 'lifeboat-prod-333333333333-us-west-2',
    });
    expect(repositoryUrl(env, 'dr')).toBe('s3://lifeboat-prod-333333333333-us-west-2');
    expect(env.stacks).toEqual({ primary: 'Lifeboat-prod-Primary', dr: 'Lifeboat-prod-Dr' });
    expect(databaseOf(env, 'orders')).toMatchObject({ kind: 'cluster', large: true, dumps: true });
    expect(databaseOf(env, 'billing')).toMatchObject({ kind: 'instance', large: false, failover: true });
  });

  it('names the SSM parameters the stacks write, and the region each workflow runs in', () => {
    const env = resolveEnvironment('staging');
    expect(workflowParameter(env, 'failback')).toBe('/lifeboat/staging/workflows/failback');
    expect(dumpTargetParameter(env, 'orders')).toBe('/lifeboat/staging/dumps/orders');
    expect(verifyTargetParameter(env, 'orders')).toBe('/lifeboat/staging/verify/orders');
    expect(workflowRegion(env, 'failover')).toBe('eu-central-1');
    expect(workflowRegion(env, 'failback')).toBe('eu-central-1');
    expect(workflowRegion(env, 'restore')).toBe('eu-west-1');
    expect(workflowRegion(env, 'restore', 'dr')).toBe('eu-central-1');
  });

  it('gives each database the event its scheduled dump gets', () => {
    for (const name of ['dev', 'staging', 'prod']) {
      const env = resolveEnvironment(name);
      for (const db of loadEnvironmentConfig(name).databases)
        expect(databaseOf(env, db.name).dumpEvent).toEqual(dumpEvent(db, db.policySettings));
    }
  });

  it('refuses an unknown environment, database or region, naming what exists', () => {
    expect(() => resolveEnvironment('production')).toThrow(
      /unknown environment "production".*dev, prod, staging/,
    );
    expect(() => databaseOf(resolveEnvironment('dev'), 'order')).toThrow(
      /environment "dev" has no database "order"; configured: orders/,
    );
    expect(() => regionRoleOption('west')).toThrow(/--region expects primary or dr, got "west"/);
    expect(regionRoleOption(undefined)).toBeUndefined();
    expect(regionRoleOption('dr')).toBe('dr');
  });
});
