/**
 * Console links of what an event is about: a Step Functions execution, a log group, an alarm. Pure
 * functions of an ARN or of names; nothing here reads the environment.
 */

interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const m = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, account: m[4] ?? '', resource: m[5]! };
}

function consoleHost(partition: string, region: string): string {
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'console.amazonaws-us-gov.com';
  return `${region}.console.aws.amazon.com`;
}

/** Step Functions console page of an execution, from its ARN (`$$.Execution.Id`). */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const arn = parseArn(executionArn);
  if (arn?.service !== 'states' || !arn.resource.startsWith('execution:') || !arn.region) return undefined;
  return `https://${consoleHost(arn.partition, arn.region)}/states/home?region=${arn.region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}

/**
 * The CloudWatch console's own escaping of names in a `#logsV2:` fragment: URI-encode twice and
 * write `%` as `$`.
 */
function logsFragment(name: string): string {
  return encodeURIComponent(encodeURIComponent(name)).replace(/%/g, '$');
}

/** CloudWatch Logs console page of a log group (and stream), by name and region. */
export function logGroupConsoleUrl(
  region: string,
  logGroupName: string,
  logStreamName?: string,
  partition = 'aws',
): string {
  const stream = logStreamName ? `/log-events/${logsFragment(logStreamName)}` : '';
  return `https://${consoleHost(partition, region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${logsFragment(logGroupName)}${stream}`;
}

/** CloudWatch Logs console page of a log group, from its ARN (`arn:aws:logs:r:a:log-group:NAME[:*]`). */
export function logGroupConsoleUrlFromArn(logGroupArn: string): string | undefined {
  const arn = parseArn(logGroupArn);
  if (arn?.service !== 'logs' || !arn.resource.startsWith('log-group:')) return undefined;
  const name = arn.resource.slice('log-group:'.length).replace(/:\*$/, '');
  return logGroupConsoleUrl(arn.region, name, undefined, arn.partition);
}

/** The Lambda environment variables that name the running invocation's log. */
export interface LambdaLogEnv {
  readonly AWS_REGION?: string | undefined;
  readonly AWS_LAMBDA_LOG_GROUP_NAME?: string | undefined;
  readonly AWS_LAMBDA_LOG_STREAM_NAME?: string | undefined;
}

/**
 * The log of the Lambda invocation that is running, from Lambda's own environment variables (the
 * caller passes its environment in).
 */
export function lambdaLogConsoleUrl(env: LambdaLogEnv): string | undefined {
  const region = env.AWS_REGION;
  const group = env.AWS_LAMBDA_LOG_GROUP_NAME;
  if (!region || !group) return undefined;
  return logGroupConsoleUrl(region, group, env.AWS_LAMBDA_LOG_STREAM_NAME || undefined);
}

/** CloudWatch console page of an alarm, from its ARN. */
export function alarmConsoleUrl(alarmArn: string): string | undefined {
  const arn = parseArn(alarmArn);
  if (arn?.service !== 'cloudwatch' || !arn.resource.startsWith('alarm:')) return undefined;
  const name = arn.resource.slice('alarm:'.length);
  return `https://${consoleHost(arn.partition, arn.region)}/cloudwatch/home?region=${arn.region}#alarmsV2:alarm/${encodeURIComponent(name)}`;
}
