import { Duration, Stack } from 'aws-cdk-lib';
import {
  Choice,
  Condition,
  Errors,
  type IChainable,
  JsonPath,
  Pass,
  Result,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { type Connect, type FailoverContext, partialStage } from './context.ts';

/**
 * Point the database's CNAME at the new primary (when the target names a record) and wait until
 * the change is INSYNC. Connected to the record step, returns the HasDnsRecord choice: an INSYNC
 * change, or no record, goes on to it.
 */
export function dnsSwitch(ctx: FailoverContext, partialChain: IChainable): Connect<Choice> {
  const { scope, props } = ctx;
  const zones = props.hostedZoneIds?.length ? props.hostedZoneIds : ['*'];
  const switchDns = new CallAwsService(scope, 'SwitchDns', {
    service: 'route53',
    action: 'changeResourceRecordSets',
    parameters: {
      HostedZoneId: JsonPath.stringAt('$.preflight.target.dns.hostedZoneId'),
      ChangeBatch: {
        Comment: JsonPath.format('lifeboat failover {}', JsonPath.stringAt('$$.Execution.Name')),
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: JsonPath.stringAt('$.preflight.target.dns.recordName'),
              Type: 'CNAME',
              Ttl: JsonPath.numberAt('$.preflight.target.dns.ttl'),
              ResourceRecords: [{ Value: JsonPath.stringAt('$.promotion.endpoint') }],
            },
          },
        ],
      },
    },
    iamResources: zones.map((z) => `arn:${Stack.of(scope).partition}:route53:::hostedzone/${z}`),
    resultSelector: {
      changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
      status: JsonPath.stringAt('$.ChangeInfo.Status'),
    },
    resultPath: '$.dns',
  });
  // UPSERT of the same record is idempotent: everything but a refusal of the change is retried.
  switchDns.addRetry({
    errors: [
      'Route53.InvalidChangeBatchException',
      'Route53.InvalidInputException',
      'Route53.NoSuchHostedZoneException',
    ],
    maxAttempts: 0,
  });
  switchDns.addRetry({
    errors: [Errors.ALL],
    maxAttempts: 5,
    interval: Duration.seconds(2),
    backoffRate: 2,
  });
  const dnsFailed = partialStage(scope, 'DnsFailed', 'dns', [
    '{} is promoted and took a verified write, but switching DNS failed ({}: {}). Next step: UPSERT the CNAME {} in hosted zone {} to {} by hand. Do not fail back: the old primary is fenced or gone.',
    '$.preflight.target.replica.identifier',
    '$.error.Error',
    '$.error.Cause',
    '$.preflight.target.dns.recordName',
    '$.preflight.target.dns.hostedZoneId',
    '$.promotion.endpoint',
  ]).next(partialChain);
  switchDns.addCatch(dnsFailed, { resultPath: '$.error' });

  const initDnsPoll = new Pass(scope, 'InitDnsPoll', {
    result: Result.fromObject({
      attempts: 0,
      waitSeconds: (props.dnsFirstWait ?? Duration.seconds(30)).toSeconds(),
    }),
    resultPath: '$.dnsPoll',
  });
  const waitForDns = new Wait(scope, 'WaitForDns', { time: WaitTime.secondsPath('$.dnsPoll.waitSeconds') });
  const getDnsChange = new CallAwsService(scope, 'GetDnsChange', {
    service: 'route53',
    action: 'getChange',
    parameters: { Id: JsonPath.stringAt('$.dns.changeId') },
    iamResources: [`arn:${Stack.of(scope).partition}:route53:::change/*`],
    resultSelector: {
      changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
      status: JsonPath.stringAt('$.ChangeInfo.Status'),
    },
    resultPath: '$.dns',
  });
  const countDnsPoll = new Pass(scope, 'CountDnsPoll', {
    parameters: {
      attempts: JsonPath.mathAdd(JsonPath.numberAt('$.dnsPoll.attempts'), 1),
      waitSeconds: (props.dnsPollInterval ?? Duration.seconds(15)).toSeconds(),
    },
    resultPath: '$.dnsPoll',
  });
  // A failed check is "not yet": the change was submitted, $.dns keeps its id.
  getDnsChange.addCatch(countDnsPoll, { resultPath: '$.dnsCheckError' });
  const dnsNotInSync = partialStage(scope, 'DnsNotInSync', 'dns', [
    '{} is promoted and took a verified write; the DNS change {} was submitted but not INSYNC after {} checks. Next step: check the change with aws route53 get-change --id {}; resolvers may still serve the old endpoint until it is INSYNC and the TTL has passed.',
    '$.preflight.target.replica.identifier',
    '$.dns.changeId',
    '$.dnsPoll.attempts',
    '$.dns.changeId',
  ]).next(partialChain);

  return (record) => {
    const hasDns = new Choice(scope, 'HasDnsRecord')
      .when(Condition.isPresent('$.preflight.target.dns'), switchDns)
      .otherwise(record);

    switchDns
      .next(initDnsPoll)
      .next(waitForDns)
      .next(getDnsChange)
      .next(countDnsPoll)
      .next(
        new Choice(scope, 'IsDnsInSync')
          .when(Condition.stringEquals('$.dns.status', 'INSYNC'), record)
          .when(
            Condition.numberGreaterThanEquals('$.dnsPoll.attempts', props.dnsMaxAttempts ?? 30),
            dnsNotInSync,
          )
          .otherwise(waitForDns),
      );
    return hasDns;
  };
}
