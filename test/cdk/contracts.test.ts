import { CreateDBInstanceReadReplicaCommand, RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReplica } from '../../functions/wf-create-replica/index.ts';
import { type FailbackPlan, failbackCommands } from '../../functions/core/failover/failback.ts';
import { createdTags } from '../../state-machines/rds-steps.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import { actionsOf, type Statement } from './template-helpers.ts';
import type { Template } from 'aws-cdk-lib/assertions';

// The IAM conditions on the `lifeboat:workflow` tag (lib/) and the tags the runtime writes
// (functions/, state-machines/) must agree, or every create is refused (or every delete allowed).
// Both are read here from what ships: the synthesized policies and the tags the code sends.

/** Every statement of the inline policies whose logical id starts with `prefix` (a role's name). */
function statements(template: Template, prefix = ''): Statement[] {
  return Object.entries(template.findResources('AWS::IAM::Policy'))
    .filter(([id]) => id.startsWith(prefix))
    .flatMap(
      ([, p]) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
}

/**
 * The `aws:<RequestTag|ResourceTag>/<key>` = value pairs of the Allow statements of `action` (IAM
 * ignores its case) in the policies of `role`, as the tags they require.
 */
function tagConditions(
  template: Template,
  action: string,
  on: 'RequestTag' | 'ResourceTag',
  role = '',
): { Key: string; Value: string }[] {
  const prefix = `aws:${on}/`;
  return statements(template, role)
    .filter((s) => s.Effect === 'Allow' && actionsOf(s).some((a) => a.toLowerCase() === action.toLowerCase()))
    .flatMap((s) => Object.entries((s.Condition?.StringEquals ?? {}) as Record<string, string>))
    .filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => ({ Key: k.slice(prefix.length), Value: v }));
}

describe('tag contract: IAM conditions and the tags the runtime writes', () => {
  let staging: SynthesizedEnvironment;
  beforeAll(() => {
    staging = synthesizeEnvironment('staging');
  });
  afterAll(() => staging.dispose());

  it('failback: the tag CreateReplica sends is the one its role requires to create a replica', async () => {
    // Creating with tags needs AddTagsToResource, allowed only with the workflow's tag; deleting
    // the replica later, only when it carries it.
    const conditions = [
      ...tagConditions(
        staging.drTemplate,
        'rds:AddTagsToResource',
        'RequestTag',
        'FailoverCreateReplicaRole',
      ),
      ...tagConditions(
        staging.drTemplate,
        'rds:DeleteDBInstance',
        'ResourceTag',
        'FailoverDeleteReplicaRole',
      ),
    ];
    expect(conditions).toHaveLength(2);
    const rds = mockClient(RDSClient);
    rds.on(CreateDBInstanceReadReplicaCommand).resolves({});
    const plan: FailbackPlan = {
      database: 'orders',
      kind: 'instance',
      source: {
        region: 'eu-central-1',
        identifier: 'orders-dr',
        arn: 'arn:aws:rds:eu-central-1:1:db:orders-dr',
      },
      replica: { region: 'eu-west-1', identifier: 'orders-rp-abc123' },
      globalClusterIdentifier: null,
      engineVersion: '16.4',
      commands: failbackCommands('instance', { region: 'eu-west-1', identifier: 'orders-rp-abc123' }, null),
    };

    await createReplica({ plan, executionName: 'fb-1' }, new RDSClient({}), {});

    const sent = rds.commandCalls(CreateDBInstanceReadReplicaCommand)[0]!.args[0].input.Tags;
    for (const condition of conditions) expect(sent).toContainEqual(condition);
    rds.restore();
  });

  it('restore and restore-test: the tags every create step writes are the ones their roles require', () => {
    const restores = [
      ['restore', 'rds:RestoreDBInstanceFromDBSnapshot'],
      ['restore-test', 'rds:RestoreDBInstanceFromDBSnapshot'],
    ] as const;
    const conditions = tagConditions(staging.primaryTemplate, restores[0][1], 'RequestTag');
    for (const [workflow] of restores) {
      const tags = createdTags(workflow);
      // Each workflow's create carries the condition written for it (the role of the other
      // workflow requires the other value).
      expect(conditions.filter((c) => c.Value === workflow)).not.toEqual([]);
      for (const c of conditions.filter((c) => c.Value === workflow)) expect(tags).toContainEqual(c);
    }
  });
});
