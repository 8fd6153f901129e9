import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import {
  CANARY_TIMEOUTS,
  CanaryEvent,
  CanaryFailed,
  type CanaryResult,
  type CanaryTarget,
  type HeartbeatStore,
  parseCanaryTargets,
  probePrimary,
} from '#core/failover/canary.ts';
import { heartbeatFromItem, heartbeatStateKey, heartbeatToItem } from '#core/failover/heartbeat.ts';
import { InvalidArgument, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import { type ConnectionInfo, clientConfig } from '#core/shared/pg.ts';
import { connectionFromSecret } from '#core/shared/secrets.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { CANARY_ENV } from './env.ts';

/**
 * The primary canary (DR region, every minute per database): writes and reads back a heartbeat
 * through the database's endpoint record and publishes PrimaryWritable and HeartbeatAgeSeconds,
 * which the "primary not accepting writes" alarm watches. See functions/core/failover/canary.ts.
 */

export interface CanaryHandlerDeps {
  readonly secrets: Pick<SecretsManagerClient, 'send'>;
  readonly dynamodb: Pick<DynamoDBClient, 'send'>;
  readonly metrics: Pick<Metrics, 'addMetric' | 'addDimensions'>;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  /** Opens a PostgreSQL client; tests hand in their own. @default node-postgres with the canary's timeouts */
  readonly client?: (info: ConnectionInfo) => pg.Client;
  readonly now?: () => Date;
}

/** The lock table as the store of each database's last acknowledged heartbeat. */
export function lockTableStore(
  dynamodb: Pick<DynamoDBClient, 'send'>,
  table: string,
  now: () => Date = () => new Date(),
): HeartbeatStore {
  return {
    async load(database) {
      const out = await dynamodb.send(
        new GetItemCommand({
          TableName: table,
          Key: { lockId: { S: heartbeatStateKey(database) } },
          ConsistentRead: true,
        }),
      );
      return heartbeatFromItem(out.Item);
    },
    async save(database, heartbeat) {
      try {
        await dynamodb.send(
          new PutItemCommand({
            TableName: table,
            Item: heartbeatToItem(database, heartbeat, now()),
            // Two runs racing (a late retry): the newer heartbeat stays.
            ConditionExpression: 'attribute_not_exists(writtenAt) OR writtenAt < :at',
            ExpressionAttributeValues: { ':at': { S: heartbeat.writtenAt } },
          }),
        );
      } catch (err) {
        if ((err as { name?: string }).name !== 'ConditionalCheckFailedException') throw err;
      }
    },
  };
}

/** node-postgres with the canary's timeouts: a primary that hangs counts as not writable, in time. */
export function canaryClient(info: ConnectionInfo): pg.Client {
  const client = new pg.Client({
    ...clientConfig(info),
    connectionTimeoutMillis: CANARY_TIMEOUTS.connectMs,
    statement_timeout: CANARY_TIMEOUTS.statementMs,
    lock_timeout: CANARY_TIMEOUTS.statementMs,
    query_timeout: CANARY_TIMEOUTS.statementMs + 1_000,
    application_name: 'lifeboat-canary',
  });
  client.on('error', () => undefined);
  return client;
}

/** Credentials are read once per warm container for a few minutes (rotation is picked up after). */
const SECRET_TTL_MS = 5 * 60_000;
const cachedConnections = new Map<string, { info: ConnectionInfo; until: number }>();

async function connectionOf(target: CanaryTarget, deps: CanaryHandlerDeps): Promise<ConnectionInfo> {
  const key = `${target.database}|${target.secretArn}`;
  const cached = cachedConnections.get(key);
  if (cached && cached.until > Date.now()) return cached.info;
  let info: ConnectionInfo;
  try {
    info = await connectionFromSecret(deps.secrets as SecretsManagerClient, target.secretArn, {
      database: target.dbname,
      sslmode: 'require',
    });
  } catch (err) {
    throw new CanaryFailed(`the canary of ${target.database} has no credentials: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const through = target.endpoint ? { ...info, host: target.endpoint } : info;
  cachedConnections.set(key, { info: through, until: Date.now() + SECRET_TTL_MS });
  return through;
}

/** Publishes a run's figures: PrimaryWritable always, HeartbeatAgeSeconds once a heartbeat exists. */
export function recordCanaryMetrics(
  sink: Pick<Metrics, 'addMetric' | 'addDimensions'>,
  environment: string,
  result: CanaryResult,
): void {
  sink.addDimensions({ [DIMENSION.environment]: environment, [DIMENSION.database]: result.database });
  sink.addMetric(METRIC.primaryWritable, MetricUnit.Count, result.writable ? 1 : 0);
  if (result.heartbeatAgeSeconds !== null) {
    sink.addMetric(METRIC.heartbeatAgeSeconds, MetricUnit.Seconds, result.heartbeatAgeSeconds);
  }
}

export async function runCanary(event: unknown, deps: CanaryHandlerDeps): Promise<CanaryResult> {
  const parsed = CanaryEvent.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgument(
      `canary event: field ${issue?.path.join('.') || '(input)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const { database } = parsed.data;
  const environment = requireEnv(CANARY_ENV.environment, deps.env);
  const targets = parseCanaryTargets(requireEnv(CANARY_ENV.targets, deps.env));
  const target = targets.find((t) => t.database === database);
  if (!target) {
    throw new InvalidArgument(
      `the canary has no target "${database}"; known: ${targets.map((t) => t.database).join(', ')}`,
    );
  }
  const store = lockTableStore(deps.dynamodb, requireEnv(CANARY_ENV.lockTable, deps.env), deps.now);
  const open = deps.client ?? canaryClient;
  let result: CanaryResult;
  try {
    result = await probePrimary(database, {
      connect: async () => {
        const info = await connectionOf(target, deps);
        const client = open(info);
        await client.connect();
        return client;
      },
      store,
      now: deps.now,
    });
  } catch (err) {
    const partial = (err as { result?: CanaryResult }).result;
    // Acknowledged but not kept: the primary is writable all the same.
    if (partial) recordCanaryMetrics(deps.metrics, environment, partial);
    // Credentials refused: read the secret again on the next run (it may have been rotated).
    cachedConnections.delete(`${database}|${target.secretArn}`);
    throw err;
  }
  recordCanaryMetrics(deps.metrics, environment, result);
  const summary = {
    database,
    writable: result.writable,
    seq: result.lastAcknowledged?.seq ?? null,
    heartbeatAgeSeconds: result.heartbeatAgeSeconds,
    durationMs: result.durationMs,
    ...(result.failure ? { failure: result.failure } : {}),
  };
  if (result.writable) deps.logger.info('primary writable', summary);
  else deps.logger.warn('primary not writable', summary);
  return result;
}

export const handler = lambdaHandler(
  { service: 'canary', metrics: handlerMetrics, event: CanaryEvent, eventLabel: 'canary event' },
  (event, { logger, metrics }) =>
    runCanary(event, {
      secrets: awsClient(SecretsManagerClient, 'brief'),
      dynamodb: awsClient(DynamoDBClient, 'monitoring'),
      metrics,
      logger,
      env: process.env,
    }),
);
