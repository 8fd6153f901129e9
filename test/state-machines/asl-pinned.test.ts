import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AslDefinition,
  renderAsl,
  TASK_STATES,
  taskStateNames,
  WORKFLOW_NAMES,
  type WorkflowName,
} from '../../state-machines/render.ts';

/**
 * The rendered ASL of each workflow is pinned in test/fixtures/asl/<name>.json, so that a change to
 * a workflow shows up as a readable diff of ASL in review. After an intended change:
 *   UPDATE_ASL=1 npx vitest run --project state-machines test/state-machines/asl-pinned.test.ts
 * and commit the rewritten fixtures with the change.
 */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/asl');
const update = process.env.UPDATE_ASL === '1';

describe('pinned ASL', () => {
  const rendered = new Map<WorkflowName, AslDefinition>();
  beforeAll(() => {
    for (const name of WORKFLOW_NAMES) rendered.set(name, renderAsl(name));
  });

  it.each(WORKFLOW_NAMES)('%s matches test/fixtures/asl/%s.json', (name) => {
    const file = path.join(FIXTURES, `${name}.json`);
    const text = `${JSON.stringify(rendered.get(name), null, 2)}\n`;
    if (update) writeFileSync(file, text);
    expect(existsSync(file), `${file} is missing: run with UPDATE_ASL=1`).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(text));
  });

  it.each(WORKFLOW_NAMES)('%s: TASK_STATES (the drill contract) names exactly its task states', (name) => {
    expect([...TASK_STATES[name]].sort()).toEqual(taskStateNames(rendered.get(name)!));
  });

  it.each(WORKFLOW_NAMES)('%s is JSONPath only and names no JSONata', (name) => {
    const text = JSON.stringify(rendered.get(name));
    expect(text).not.toContain('JSONata');
    expect(text).not.toContain('{%');
  });
});
