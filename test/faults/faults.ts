import fc from 'fast-check';

/** An error named the way a Task state sees it (its name is the ASL error). */
export function awsError(name: string, message: string): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

/**
 * Fault schedules: which call of which Task state goes wrong, and how. A fault is tied to one
 * attempt of one task (its n-th call, retries included), or, for the persistent kinds, to every
 * call from that attempt on.
 *
 * - throttle: the service refuses the call (SDK throttling); nothing was applied.
 * - lambda-throttle: Lambda refuses the invocation (Lambda.TooManyRequestsException); nothing ran.
 * - 5xx: the service fails the call; nothing was applied.
 * - lost: the call was applied, then an error came back instead of the answer.
 * - timeout: the call was applied (or not: `applied`), and the task timed out.
 * - unreachable: the region's endpoint cannot be reached, from this call on; nothing applied.
 * - denied: AccessDenied, from this call on; nothing applied.
 */
export const FAULT_KINDS = [
  'throttle',
  'lambda-throttle',
  '5xx',
  'lost',
  'timeout',
  'unreachable',
  'denied',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const TRANSIENT: readonly FaultKind[] = ['throttle', 'lambda-throttle', '5xx', 'lost', 'timeout'];

export interface Fault {
  readonly task: string;
  /** 0-based call of the task (retries count as calls). */
  readonly attempt: number;
  readonly kind: FaultKind;
  /** timeout only: whether the call took effect before the timeout. */
  readonly applied: boolean;
}
export type FaultSchedule = readonly Fault[];

/**
 * `dynamodb`: the optimized integration (errors `DynamoDB.*`); `dynamodb-sdk`: the AWS SDK
 * integration (`aws-sdk:dynamodb:…`, errors `DynamoDb.*`, as Step Functions names them).
 */
export type Integration = 'lambda' | 'rds' | 'route53' | 'sns' | 'dynamodb' | 'dynamodb-sdk' | 'clock';

/** Which kind of service a Task state's Resource calls. */
export function integrationOf(resource: string): Integration {
  if (resource.startsWith('arn:aws:lambda:') || resource.startsWith('arn:aws:states:::lambda:invoke'))
    return 'lambda';
  if (resource === 'local:clock') return 'clock';
  const m = /^arn:aws:states:::(?:aws-sdk:)?([a-z0-9]+):/.exec(resource);
  const service = m?.[1];
  if (service === 'dynamodb' && resource.includes(':aws-sdk:')) return 'dynamodb-sdk';
  if (service === 'rds' || service === 'route53' || service === 'sns' || service === 'dynamodb')
    return service;
  throw new Error(`faults: unknown integration ${resource}`);
}

/** Whether a fault of this kind lets the call through to the world before failing. */
export function appliesCall(fault: Fault): boolean {
  return fault.kind === 'lost' || (fault.kind === 'timeout' && fault.applied);
}

/**
 * The error a Task state sees for a fault, named as Step Functions names it. An AWS SDK
 * integration produces `<Service>.<Java SDK v2 exception class>` for the service's modelled errors
 * and its base exception for everything else: RDS has no modelled throttling or server error, so
 * throttling, 5xx, AccessDenied and a call that could not be made (timeout, unreachable) all
 * arrive as `Rds.RdsException` (the message tells them apart). Lambda invocations fail with the
 * Lambda service's exceptions, a task timeout with States.Timeout.
 */
export function faultError(kind: FaultKind, integration: Integration, task: string): Error {
  const what = `injected ${kind} at ${task}`;
  switch (integration) {
    case 'lambda':
      switch (kind) {
        case 'throttle':
        case 'lambda-throttle':
          return awsError('Lambda.TooManyRequestsException', `Rate Exceeded. (${what})`);
        case '5xx':
        case 'lost':
          return awsError('Lambda.ServiceException', `Service error (Status Code: 500; ${what})`);
        case 'timeout':
          return awsError('States.Timeout', `Task timed out (${what})`);
        case 'unreachable':
          return awsError('Lambda.SdkClientException', `Unable to execute HTTP request (${what})`);
        case 'denied':
          return awsError(
            'Lambda.AWSLambdaException',
            `not authorized to perform: lambda:InvokeFunction (Status Code: 403; ${what})`,
          );
      }
      break;
    case 'rds':
    case 'route53': {
      const svc = integration === 'rds' ? 'Rds' : 'Route53';
      switch (kind) {
        case 'throttle':
        case 'lambda-throttle':
          return integration === 'route53'
            ? awsError('Route53.ThrottlingException', `Rate exceeded (${what})`)
            : awsError('Rds.RdsException', `Rate exceeded (Service: Rds, Status Code: 400; ${what})`);
        case '5xx':
        case 'lost':
          return awsError(
            `${svc}.${svc}Exception`,
            `Internal failure (Service: ${svc}, Status Code: 500; ${what})`,
          );
        case 'timeout':
        case 'unreachable':
          return awsError(`${svc}.${svc}Exception`, `Unable to execute HTTP request: timed out (${what})`);
        case 'denied':
          return awsError(
            `${svc}.${svc}Exception`,
            `User is not authorized (Service: ${svc}, Status Code: 403; ${what})`,
          );
      }
      break;
    }
    case 'sns':
      switch (kind) {
        case 'throttle':
        case 'lambda-throttle':
          return awsError('SNS.ThrottledException', `Rate exceeded (${what})`);
        case 'denied':
          return awsError('SNS.AuthorizationErrorException', `not authorized (${what})`);
        case 'timeout':
        case 'unreachable':
          return awsError('SNS.SdkClientException', `Unable to execute HTTP request (${what})`);
        default:
          return awsError('SNS.InternalErrorException', `Internal error (${what})`);
      }
    case 'dynamodb':
      switch (kind) {
        case 'throttle':
        case 'lambda-throttle':
          return awsError('DynamoDB.ProvisionedThroughputExceededException', `throughput exceeded (${what})`);
        case 'denied':
          return awsError('DynamoDB.AmazonDynamoDBException', `not authorized (Status Code: 400; ${what})`);
        case 'timeout':
        case 'unreachable':
          return awsError('DynamoDB.AmazonDynamoDBException', `Unable to execute HTTP request (${what})`);
        default:
          return awsError('DynamoDB.InternalServerErrorException', `Internal server error (${what})`);
      }
    case 'dynamodb-sdk':
      switch (kind) {
        case 'throttle':
        case 'lambda-throttle':
          return awsError('DynamoDb.ProvisionedThroughputExceededException', `throughput exceeded (${what})`);
        case '5xx':
        case 'lost':
          return awsError('DynamoDb.InternalServerErrorException', `Internal server error (${what})`);
        default:
          return awsError('DynamoDb.DynamoDbException', `${kind} (Status Code: 400 or none; ${what})`);
      }
    case 'clock':
      break;
  }
  throw new Error(`faults: no ${kind} for ${integration}`);
}

/** The fault (if any) for the `attempt`-th call of `task`. */
export function faultFor(schedule: FaultSchedule, task: string, attempt: number): Fault | undefined {
  return schedule.find(
    (f) =>
      f.task === task &&
      (f.attempt === attempt || ((f.kind === 'unreachable' || f.kind === 'denied') && attempt > f.attempt)),
  );
}

const faultArb = (tasks: readonly string[], kinds: readonly FaultKind[]): fc.Arbitrary<Fault> =>
  fc.record({
    task: fc.constantFrom(...tasks),
    attempt: fc.nat({ max: 2 }),
    kind: fc.constantFrom(...kinds),
    applied: fc.boolean(),
  });

/** Any schedule of up to `maxFaults` faults of any kind over the given tasks. */
export function faultScheduleArb(tasks: readonly string[], maxFaults = 4): fc.Arbitrary<FaultSchedule> {
  return fc.array(faultArb(tasks, FAULT_KINDS), { maxLength: maxFaults });
}

/** Exactly one transient fault (throttle, Lambda throttle, 5xx, lost answer, timeout) at one task. */
export function singleTransientArb(tasks: readonly string[]): fc.Arbitrary<FaultSchedule> {
  return faultArb(tasks, TRANSIENT).map((f) => [f]);
}

/** Reads FAULT_SEED / FAULT_RUNS: the same seed replays the same runs. */
export function propertySettings(): { seed: number; numRuns: number } {
  const seed = Number(process.env.FAULT_SEED ?? 20261201);
  const numRuns = Number(process.env.FAULT_RUNS ?? 1000);
  if (!Number.isInteger(seed))
    throw new Error(`FAULT_SEED must be an integer, got ${process.env.FAULT_SEED}`);
  if (!Number.isInteger(numRuns) || numRuns < 1)
    throw new Error(`FAULT_RUNS must be a positive integer, got ${process.env.FAULT_RUNS}`);
  return { seed, numRuns };
}
