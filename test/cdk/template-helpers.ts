import { Match, type Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';

/** The logical id of the one resource of `type` matching `props` (fails unless exactly one). */
export function onlyResource(template: Template, type: string, props: Record<string, unknown> = {}): string {
  const filter = Object.keys(props).length === 0 ? {} : { Properties: Match.objectLike(props) };
  const found = Object.keys(template.findResources(type, filter));
  expect(found, `${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0]!;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

/** Every statement of the inline policies attached to the role `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) },
  });
  return Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** `{ 'Fn::GetAtt': [id, 'Arn'] }` */
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** `<bucket ARN>/<suffix>` as CDK renders it. */
export const objectsOf = (bucketLogicalId: string, suffix: string) => ({
  'Fn::Join': ['', [arnOf(bucketLogicalId), `/${suffix}`]],
});

/** The role a Lambda function runs with. */
export function roleOfFunction(template: Template, functionLogicalId: string): string {
  const fn = template.toJSON().Resources[functionLogicalId];
  return fn.Properties.Role['Fn::GetAtt'][0];
}
