import {
  modelForService,
  type Operation,
  type ServiceModel,
  type Shape,
  sdkErrorNames,
  sfnMembers,
} from './sdk-models.ts';

/**
 * Checks of a synthesized ASL document against what AWS accepts and produces:
 *
 * - `checkSdkIntegrations`: every `arn:aws:states:::aws-sdk:<service>:<action>` task names an
 *   operation of the service's model, every Parameters key (nested static objects too) is a
 *   field of the operation's input, and every path that reads the task's result (ResultSelector,
 *   and any later path under its ResultPath: Choice variables, Parameters, Pass states) names
 *   fields of the operation's output. Field names are spelt as Step Functions spells them
 *   (see sdk-models.ts).
 * - `checkErrorNames`: every error a Retry or Catch names (other than `States.*`) is one the
 *   task can produce: for an AWS SDK task, the service's modeled errors and its base exception;
 *   for other tasks, what the caller says (the Lambda service's errors plus the names the
 *   function's shipped bundle throws).
 */

export interface Finding {
  readonly state: string;
  readonly message: string;
}

export type State = Record<string, unknown> & { readonly Type: string };
export interface Asl {
  readonly StartAt: string;
  readonly States: Record<string, State>;
}

/** Every state, nested Parallel branches and Map processors included. */
export function allStates(asl: Asl): [string, State][] {
  const out: [string, State][] = [];
  const visit = (states: Record<string, State>): void => {
    for (const [name, state] of Object.entries(states)) {
      out.push([name, state]);
      for (const branch of (state.Branches as Asl[] | undefined) ?? []) visit(branch.States);
      const processor = (state.ItemProcessor ?? state.Iterator) as Asl | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(asl.States);
  return out;
}

const SDK_RESOURCE = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(?:\.(?:sync|waitForTaskToken))?$/;

export interface SdkTask {
  readonly service: string;
  readonly model: ServiceModel;
  readonly operation: Operation | undefined;
  readonly action: string;
}

export function sdkTask(state: State): SdkTask | null {
  if (state.Type !== 'Task' || typeof state.Resource !== 'string') return null;
  const m = SDK_RESOURCE.exec(state.Resource);
  if (!m) return null;
  const [, service, action] = m as unknown as [string, string, string];
  const model = modelForService(service);
  const operation = model.operations.get(action.charAt(0).toUpperCase() + action.slice(1));
  return { service, model, operation, action };
}

type Segment = { readonly field: string } | { readonly index: true };

/** `$.a.b[0]['c']` → segments; null for a path this check does not read (`$$.`, filters). */
export function parsePath(path: string): Segment[] | null {
  if (path === '$') return [];
  if (!path.startsWith('$.') && !path.startsWith('$[')) return null;
  const segments: Segment[] = [];
  const re = /\.([A-Za-z0-9_-]+)|\[(\d+|\*)\]|\['([^']+)'\]/gy;
  re.lastIndex = 1;
  let m: RegExpExecArray | null;
  while (re.lastIndex < path.length) {
    m = re.exec(path);
    if (!m) return null;
    if (m[1] !== undefined) segments.push({ field: m[1] });
    else if (m[2] !== undefined) segments.push({ index: true });
    else segments.push({ field: m[3]! });
  }
  return segments;
}

function render(segments: readonly Segment[]): string {
  return `$${segments.map((s) => ('field' in s ? `.${s.field}` : '[n]')).join('')}`;
}

/** Follows `segments` through `shape`; an error names the first segment that is not there. */
export function navigate(shape: Shape, segments: readonly Segment[]): { shape: Shape } | { error: string } {
  let current = shape;
  for (const [i, segment] of segments.entries()) {
    const at = render(segments.slice(0, i + 1));
    if ('index' in segment) {
      if (current.kind !== 'list') return { error: `${at}: not a list` };
      current = current.member();
      continue;
    }
    if (current.kind === 'map') {
      current = current.value();
      continue;
    }
    if (current.kind !== 'structure')
      return { error: `${at}: ${render(segments.slice(0, i))} has no fields` };
    const member = sfnMembers(current).get(segment.field);
    if (!member) {
      const known = [...sfnMembers(current).keys()];
      const near = known.filter((k) => k.toLowerCase() === segment.field.toLowerCase());
      return {
        error: `${at}: ${current.name} has no field ${segment.field}${near.length ? ` (Step Functions spells it ${near.join(', ')})` : ''}`,
      };
    }
    current = member();
  }
  return { shape: current };
}

function checkParameters(value: unknown, shape: Shape, where: string, out: string[]): void {
  if (Array.isArray(value)) {
    if (shape.kind !== 'list') {
      out.push(`${where}: a list where the model has ${shape.kind}`);
      return;
    }
    for (const item of value) checkParameters(item, shape.member(), `${where}[]`, out);
    return;
  }
  if (!value || typeof value !== 'object') return;
  if (shape.kind === 'map') return;
  if (shape.kind !== 'structure') {
    out.push(`${where}: an object where the model has ${shape.kind}`);
    return;
  }
  const members = sfnMembers(shape);
  for (const [rawKey, child] of Object.entries(value)) {
    const key = rawKey.endsWith('.$') ? rawKey.slice(0, -2) : rawKey;
    const member = members.get(key);
    if (!member) {
      const near = [...members.keys()].filter((k) => k.toLowerCase() === key.toLowerCase());
      out.push(
        `${where}: ${shape.name} has no field ${key}${near.length ? ` (Step Functions spells it ${near.join(', ')})` : ''}`,
      );
      continue;
    }
    // A `.$` key's value is a path or an intrinsic: its shape is not known here.
    if (!rawKey.endsWith('.$')) checkParameters(child, member(), `${where}.${key}`, out);
  }
}

const INTRINSIC_PATH = /(?<![$\w])\$(?:\.[A-Za-z0-9_-]+|\[\d+\]|\['[^']+'\])+/g;

/** Every JSONPath a value reads: `.$` keys (paths or intrinsic functions), recursively. */
function pathsIn(value: unknown, out: string[]): void {
  if (Array.isArray(value)) {
    for (const v of value) pathsIn(v, out);
    return;
  }
  if (!value || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value)) {
    if (key.endsWith('.$') && typeof v === 'string') {
      if (v.startsWith('$')) out.push(v);
      else for (const m of v.matchAll(INTRINSIC_PATH)) out.push(m[0]);
    } else pathsIn(v, out);
  }
}

const PATH_FIELDS = [
  'InputPath',
  'OutputPath',
  'ItemsPath',
  'SecondsPath',
  'TimestampPath',
  'ErrorPath',
  'CausePath',
];

/** Every path a state reads from its input (not the task result). */
function inputPaths(state: State): string[] {
  const out: string[] = [];
  for (const f of PATH_FIELDS) if (typeof state[f] === 'string') out.push(state[f]);
  pathsIn(state.Parameters, out);
  pathsIn(state.ItemSelector, out);
  pathsIn(state.Arguments, out);
  const rules = (state.Choices as Record<string, unknown>[] | undefined) ?? [];
  const visit = (rule: Record<string, unknown>): void => {
    for (const [k, v] of Object.entries(rule)) {
      if ((k === 'Variable' || k.endsWith('Path')) && typeof v === 'string') out.push(v);
      if (k === 'And' || k === 'Or') for (const r of v as Record<string, unknown>[]) visit(r);
      if (k === 'Not') visit(v as Record<string, unknown>);
    }
  };
  for (const rule of rules) visit(rule);
  return out;
}

/** The shape a ResultSelector builds from an output shape; findings for paths not in the output. */
function selectorShape(selector: unknown, output: Shape, where: string, out: string[]): Shape {
  if (!selector || typeof selector !== 'object' || Array.isArray(selector)) return { kind: 'scalar' };
  const members = new Map<string, () => Shape>();
  for (const [rawKey, v] of Object.entries(selector)) {
    const key = rawKey.endsWith('.$') ? rawKey.slice(0, -2) : rawKey;
    let shape: Shape = { kind: 'scalar' };
    if (rawKey.endsWith('.$') && typeof v === 'string') {
      const paths = v.startsWith('$') ? [v] : [...v.matchAll(INTRINSIC_PATH)].map((m) => m[0]);
      for (const p of paths) {
        const segments = parsePath(p);
        if (!segments) continue;
        const found = navigate(output, segments);
        if ('error' in found) out.push(`${where}.${key}: reads ${p}: ${found.error}`);
        else if (p === v) shape = found.shape;
      }
    } else if (v && typeof v === 'object') {
      shape = selectorShape(v, output, `${where}.${key}`, out);
    }
    const fixed = shape;
    members.set(key, () => fixed);
  }
  return { kind: 'structure', name: `${where} (ResultSelector)`, members, verbatim: true };
}

export function checkSdkIntegrations(asl: Asl): Finding[] {
  const findings: Finding[] = [];
  // What each ResultPath holds: the shape an SDK task put there, or null when anything else writes
  // it too (a Lambda result, a Pass state): such a prefix is not checked.
  const written = new Map<string, (Shape | null)[]>();
  const states = allStates(asl);
  for (const [name, state] of states) {
    const task = sdkTask(state);
    const resultPath = state.ResultPath === undefined ? '$' : (state.ResultPath as string | null);
    if (!task) {
      if (resultPath !== null && resultPath !== '$' && state.Type !== 'Choice')
        written.set(resultPath, [...(written.get(resultPath) ?? []), null]);
      continue;
    }
    if (!task.operation) {
      findings.push({
        state: name,
        message: `${task.model.serviceId} has no operation ${task.action} (aws-sdk:${task.service}:${task.action})`,
      });
      continue;
    }
    const problems: string[] = [];
    checkParameters(state.Parameters ?? {}, task.operation.input, `${task.operation.name}`, problems);
    let result: Shape = task.operation.output;
    if (state.ResultSelector !== undefined)
      result = selectorShape(state.ResultSelector, task.operation.output, `${name}.ResultSelector`, problems);
    for (const p of problems) findings.push({ state: name, message: p });
    if (resultPath !== null && resultPath !== '$')
      written.set(resultPath, [...(written.get(resultPath) ?? []), result]);
  }
  // Paths read anywhere under a ResultPath an SDK task writes.
  const prefixes = [...written.entries()]
    .map(([p, shapes]) => ({ segments: parsePath(p), shapes, path: p }))
    .filter((p): p is { segments: Segment[]; shapes: (Shape | null)[]; path: string } => p.segments !== null)
    .sort((a, b) => b.segments.length - a.segments.length);
  for (const [name, state] of states) {
    for (const p of inputPaths(state)) {
      const segments = parsePath(p);
      if (!segments) continue;
      const prefix = prefixes.find(
        (x) =>
          x.segments.length <= segments.length &&
          x.segments.every((s, i) => JSON.stringify(s) === JSON.stringify(segments[i])),
      );
      if (!prefix || prefix.shapes.includes(null)) continue;
      for (const shape of prefix.shapes) {
        const found = navigate(shape!, segments.slice(prefix.segments.length));
        if ('error' in found)
          findings.push({ state: name, message: `reads ${p} (written at ${prefix.path}): ${found.error}` });
      }
    }
  }
  return findings;
}

export type ProducibleErrors = (state: string, task: State) => ReadonlySet<string> | null;

/**
 * Every error name in a Retry or Catch (other than `States.*`) must be one the task can produce.
 * `producible` answers for non-SDK tasks (null: the state is not one the caller knows, a finding).
 */
export function checkErrorNames(asl: Asl, producible: ProducibleErrors): Finding[] {
  const findings: Finding[] = [];
  for (const [name, state] of allStates(asl)) {
    const retriers = (state.Retry as { ErrorEquals: string[] }[] | undefined) ?? [];
    const catchers = (state.Catch as { ErrorEquals: string[] }[] | undefined) ?? [];
    const named = [...retriers, ...catchers]
      .flatMap((r) => r.ErrorEquals)
      .filter((e) => !e.startsWith('States.'));
    if (named.length === 0) continue;
    const task = state.Type === 'Task' ? sdkTask(state) : null;
    const known = task ? sdkErrorNames(task.model) : producible(name, state);
    if (!known) {
      findings.push({
        state: name,
        message: `names errors (${named.join(', ')}) but what it can produce is not known`,
      });
      continue;
    }
    for (const e of named)
      if (!known.has(e))
        findings.push({ state: name, message: `${e} is not an error this task can produce` });
  }
  return findings;
}
