import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * AWS control-plane answers over HTTP, for code that carries its own copy of the AWS SDK (a
 * shipped bundle): aws-sdk-client-mock replaces `send` on the client classes of the test's own
 * node_modules, and a bundle's classes are other objects, so it never sees their calls. Pointed
 * at by `AWS_ENDPOINT_URL_<SERVICE>` (the SDK's configured-endpoint variables), the bundled SDK
 * serializes, signs and sends real requests here, and parses real responses: what ships is what
 * runs. Only the calls a test needs are answered; any other request gets a 500 naming it, and
 * every request is recorded.
 */

export interface FakeDbInstance {
  readonly identifier: string;
  readonly status?: string;
  readonly address: string;
  readonly port: number;
}

export interface FakeAwsCall {
  readonly service: 'rds' | 'secretsmanager' | 'unknown';
  readonly action: string;
  readonly params: Record<string, string>;
}

export interface FakeAws {
  readonly endpoint: string;
  readonly calls: FakeAwsCall[];
  readonly instances: Map<string, FakeDbInstance>;
  /** Secret ARN → SecretString. */
  readonly secrets: Map<string, string>;
  stop(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

const xml = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function rdsError(code: string, message: string): string {
  return `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>fake-1</RequestId></ErrorResponse>`;
}

function describeDbInstances(instance: FakeDbInstance): string {
  return `<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstancesResult>
    <DBInstances>
      <DBInstance>
        <DBInstanceIdentifier>${xml(instance.identifier)}</DBInstanceIdentifier>
        <DBInstanceStatus>${xml(instance.status ?? 'available')}</DBInstanceStatus>
        <Engine>postgres</Engine>
        <Endpoint><Address>${xml(instance.address)}</Address><Port>${instance.port}</Port></Endpoint>
      </DBInstance>
    </DBInstances>
  </DescribeDBInstancesResult>
  <ResponseMetadata><RequestId>fake-1</RequestId></ResponseMetadata>
</DescribeDBInstancesResponse>`;
}

export async function startFakeAws(): Promise<FakeAws> {
  const calls: FakeAwsCall[] = [];
  const instances = new Map<string, FakeDbInstance>();
  const secrets = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && target.startsWith('secretsmanager.')) {
        const action = target.slice('secretsmanager.'.length);
        const params = JSON.parse(text || '{}') as Record<string, string>;
        calls.push({ service: 'secretsmanager', action, params });
        const value = action === 'GetSecretValue' ? secrets.get(params.SecretId ?? '') : undefined;
        res.setHeader('content-type', 'application/x-amz-json-1.1');
        if (value === undefined) {
          res.statusCode = 400;
          res.end(
            JSON.stringify({
              __type: 'ResourceNotFoundException',
              message: `Secrets Manager can't find the specified secret.`,
            }),
          );
          return;
        }
        res.end(
          JSON.stringify({ ARN: params.SecretId, Name: 'secret', SecretString: value, VersionId: 'v1' }),
        );
        return;
      }
      const form = new URLSearchParams(text);
      const action = form.get('Action');
      if (action) {
        const params = Object.fromEntries(form.entries());
        calls.push({ service: 'rds', action, params });
        res.setHeader('content-type', 'text/xml');
        if (action === 'DescribeDBInstances') {
          const instance = instances.get(params.DBInstanceIdentifier ?? '');
          if (!instance) {
            res.statusCode = 404;
            res.end(rdsError('DBInstanceNotFound', `DBInstance ${params.DBInstanceIdentifier} not found.`));
            return;
          }
          res.end(describeDbInstances(instance));
          return;
        }
        res.statusCode = 500;
        res.end(rdsError('InternalFailure', `the fake AWS does not answer ${action}`));
        return;
      }
      calls.push({ service: 'unknown', action: `${req.method} ${req.url}`, params: {} });
      res.statusCode = 500;
      res.end(`the fake AWS does not answer ${req.method} ${req.url}`);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    instances,
    secrets,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
