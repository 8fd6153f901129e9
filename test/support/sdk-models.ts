import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';

/**
 * The AWS SDK v3 clients in node_modules carry each service's model as static schemas
 * (dist-es/schemas/schemas_0.js): every operation with its input and output structure, every
 * structure with its member names, every modeled error. This reads them and spells names the way
 * Step Functions' AWS SDK integrations do (they are built on the Java SDK v2):
 *
 * - a field is the model's member name with its leading run of capitals lowercased except the
 *   last one before a lowercase letter (the Java SDK v2's `unCapitalize`), then the first letter
 *   capitalized: `DBInstanceIdentifier` → `DbInstanceIdentifier`, `SourceDBInstanceIdentifier`
 *   and `MultiAZ` stay;
 * - an error is `<Service>.<Exception>`: the service's Java client name (`Rds`, `Route53`,
 *   `DynamoDb`) and the Java exception class (the shape name split into words, each lowercased
 *   and capitalized, `Fault` replaced by `Exception`): `DBInstanceNotFoundFault` →
 *   `Rds.DbInstanceNotFoundException`. An error the model does not list (throttling, a 5xx, a
 *   validation error) arrives as the service's base exception, `Rds.RdsException`.
 */

export type Shape =
  | {
      readonly kind: 'structure';
      readonly name: string;
      readonly members: ReadonlyMap<string, () => Shape>;
      /** Members are named as they are used (a ResultSelector's keys), not as the model names them. */
      readonly verbatim?: boolean;
    }
  | { readonly kind: 'list'; readonly member: () => Shape }
  | { readonly kind: 'map'; readonly value: () => Shape }
  | { readonly kind: 'scalar' };

export interface Operation {
  readonly name: string;
  readonly input: Shape;
  readonly output: Shape;
}

export interface ServiceModel {
  /** The client package, e.g. `@aws-sdk/client-rds`. */
  readonly client: string;
  /** The model's service id, e.g. `RDS`, `Route 53`. */
  readonly serviceId: string;
  /** The prefix of the service's error names in Step Functions, e.g. `Rds`. */
  readonly errorPrefix: string;
  readonly operations: ReadonlyMap<string, Operation>;
  /** Modeled error shapes, as the model names them (`DBInstanceNotFoundFault`). */
  readonly errors: readonly string[];
}

/** The service name in `arn:aws:states:::aws-sdk:<service>:<action>` → the SDK v3 client. */
export const SDK_CLIENTS: Readonly<Record<string, string>> = {
  rds: '@aws-sdk/client-rds',
  route53: '@aws-sdk/client-route-53',
  dynamodb: '@aws-sdk/client-dynamodb',
  sfn: '@aws-sdk/client-sfn',
  sns: '@aws-sdk/client-sns',
  s3: '@aws-sdk/client-s3',
  lambda: '@aws-sdk/client-lambda',
  kms: '@aws-sdk/client-kms',
  ssm: '@aws-sdk/client-ssm',
  sts: '@aws-sdk/client-sts',
  ecs: '@aws-sdk/client-ecs',
  cloudwatch: '@aws-sdk/client-cloudwatch',
  secretsmanager: '@aws-sdk/client-secrets-manager',
};

const require = createRequire(import.meta.url);

function clientDir(client: string): string {
  // The package's exports hide dist-es; its package.json is always reachable.
  return path.dirname(require.resolve(`${client}/package.json`));
}

/** The Java SDK v2's unCapitalize, then the first letter capitalized: a Step Functions field name. */
export function sfnFieldName(member: string): string {
  let i = 0;
  let out = '';
  do {
    out += member.charAt(i++).toLowerCase();
  } while (
    i < member.length &&
    isUpper(member.charAt(i)) &&
    !(i < member.length - 1 && isLower(member.charAt(i + 1)))
  );
  out += member.slice(i);
  return out.charAt(0).toUpperCase() + out.slice(1);
}

const isUpper = (c: string): boolean => c >= 'A' && c <= 'Z';
const isLower = (c: string): boolean => c >= 'a' && c <= 'z';

/** The Java SDK v2's word split for class names (`splitOnWordBoundaries`). */
export function javaWords(name: string): string[] {
  let s = name.replace(/[^A-Za-z0-9]+/g, ' ');
  s = s.replace(/([^a-z]{2,})v([0-9]+)/g, '$1 v$2 ').replace(/([^A-Z]{2,})V([0-9]+)/g, '$1 V$2 ');
  s = s.split(/(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))/).join(' ');
  s = s.replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  s = s.replace(/([0-9])([a-zA-Z])/g, '$1 $2');
  return s.replace(/ +/g, ' ').trim().split(' ');
}

/** The Java SDK v2's `pascalCase`: each word lowercased, then capitalized. */
export function javaPascalCase(name: string): string {
  return javaWords(name)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
    .join('');
}

/** The Java SDK v2 exception class of a modeled error shape. */
export function javaExceptionName(shape: string): string {
  if (shape.endsWith('Fault')) return `${javaPascalCase(shape.slice(0, -'Fault'.length))}Exception`;
  if (shape.endsWith('Exception')) return javaPascalCase(shape);
  return `${javaPascalCase(shape)}Exception`;
}

/** Every error name Step Functions can report for an AWS SDK integration of `model`. */
export function sdkErrorNames(model: ServiceModel): Set<string> {
  const names = new Set(model.errors.map((e) => `${model.errorPrefix}.${javaExceptionName(e)}`));
  names.add(`${model.errorPrefix}.${model.errorPrefix}Exception`);
  return names;
}

type Raw = unknown;

function toShape(raw: Raw, cache: Map<unknown, Shape>): Shape {
  if (typeof raw === 'function') return toShape((raw as () => Raw)(), cache);
  if (typeof raw === 'number') {
    // Bit 64: list of a simple type; bit 128: map of a simple type.
    if (raw & 64) return { kind: 'list', member: () => ({ kind: 'scalar' }) };
    if (raw & 128) return { kind: 'map', value: () => ({ kind: 'scalar' }) };
    return { kind: 'scalar' };
  }
  if (raw === 'unit') return { kind: 'structure', name: 'Unit', members: new Map() };
  if (!Array.isArray(raw)) return { kind: 'scalar' };
  // A member reference with its own traits: [type, traits].
  if (typeof raw[1] !== 'string') return toShape(raw[0], cache);
  const cached = cache.get(raw);
  if (cached) return cached;
  const code = raw[0] as number;
  let shape: Shape;
  if (code === 3 || code === -3) {
    const names = raw[4] as string[];
    const types = raw[5] as Raw[];
    const members = new Map<string, () => Shape>();
    names.forEach((n, i) => members.set(n, () => toShape(types[i], cache)));
    shape = { kind: 'structure', name: raw[2] as string, members };
  } else if (code === 1) {
    shape = { kind: 'list', member: () => toShape(raw[4], cache) };
  } else if (code === 2) {
    shape = { kind: 'map', value: () => toShape(raw[5], cache) };
  } else if (code === 0) {
    shape = toShape(raw[4], cache);
  } else {
    shape = { kind: 'scalar' };
  }
  cache.set(raw, shape);
  return shape;
}

const models = new Map<string, ServiceModel>();

/** Loads a client's model from its schemas file (evaluated in a sandbox: it is plain data). */
export function loadModel(client: string): ServiceModel {
  const known = models.get(client);
  if (known) return known;
  const dir = clientDir(client);
  const text = readFileSync(path.join(dir, 'dist-es/schemas/schemas_0.js'), 'utf8');
  const imported = new Set<string>();
  const body = text
    .replace(/^import \{([^}]*)\} from "[^"]+";$/gm, (_, names: string) => {
      for (const n of names.split(',').map((s) => s.trim())) if (n) imported.add(n.replace(/^.* as /, ''));
      return '';
    })
    .replace(/^export (var|const|let) /gm, 'var ')
    .replace(/^export \{[^}]*\};?$/gm, '');
  const sandbox: Record<string, unknown> = {
    __errors: [] as string[],
  };
  class TypeRegistry {
    static for(): TypeRegistry {
      return new TypeRegistry();
    }
    registerError(schema: Raw[]): void {
      (sandbox.__errors as string[]).push(schema[2] as string);
    }
    register(): void {}
  }
  for (const n of imported) sandbox[n] = n === 'TypeRegistry' ? TypeRegistry : class {};
  vm.createContext(sandbox);
  vm.runInContext(body, sandbox, { filename: `${client}/schemas_0.js` });

  const cache = new Map<unknown, Shape>();
  const operations = new Map<string, Operation>();
  for (const value of Object.values(sandbox)) {
    if (Array.isArray(value) && value[0] === 9 && typeof value[2] === 'string') {
      const name = value[2];
      operations.set(name, {
        name,
        input: toShape(value[4], cache),
        output: toShape(value[5], cache),
      });
    }
  }
  const shared = readFileSync(path.join(dir, 'dist-es/runtimeConfig.shared.js'), 'utf8');
  const serviceId = /serviceId: config\?\.serviceId \?\? "([^"]+)"/.exec(shared)?.[1];
  if (!serviceId) throw new Error(`${client}: no serviceId in runtimeConfig.shared.js`);
  // The base exception registers too (as <Service>ServiceException); it is not a modeled error.
  const errors = (sandbox.__errors as string[]).filter((e) => !e.endsWith('ServiceException'));
  const model: ServiceModel = {
    client,
    serviceId,
    errorPrefix: javaPascalCase(serviceId),
    operations,
    errors,
  };
  if (operations.size === 0) throw new Error(`${client}: no operations found in its schemas`);
  models.set(client, model);
  return model;
}

/** The model of `arn:aws:states:::aws-sdk:<service>:...`'s service. */
export function modelForService(service: string): ServiceModel {
  const client = SDK_CLIENTS[service];
  if (!client) throw new Error(`no SDK client known for aws-sdk:${service} (add it to SDK_CLIENTS)`);
  return loadModel(client);
}

/** A structure's members under their Step Functions names. */
export function sfnMembers(shape: Shape): Map<string, () => Shape> {
  if (shape.kind !== 'structure') return new Map();
  if (shape.verbatim) return new Map(shape.members);
  return new Map([...shape.members].map(([n, s]) => [sfnFieldName(n), s]));
}
