import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../functions/core/shared/errors.ts';

/**
 * Step Functions Catch/Retry and the CLI match errors by `name`. Deployed code is minified, so a
 * name derived from the class (`new.target.name`) would be a mangled identifier there: every error
 * class spells its name as a literal. This finds every module that declares an error class and
 * checks each one.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

const declaring = ['functions', 'bin', 'lib']
  .flatMap(sourceFiles)
  .filter((f) => /class \w+ extends \w*Error\b/.test(readFileSync(path.join(ROOT, f), 'utf8')));

type ErrorClass = new (message: string) => Error;

async function errorClasses(file: string): Promise<[string, ErrorClass][]> {
  const mod = (await import(pathToFileURL(path.join(ROOT, file)).href)) as Record<string, unknown>;
  return Object.entries(mod).filter(
    (e): e is [string, ErrorClass] =>
      typeof e[1] === 'function' && (e[1] === LifeboatError || e[1].prototype instanceof LifeboatError),
  );
}

/** Names a class declaration in source spells with `override readonly name = '...'`. */
function literalNames(file: string): Map<string, string> {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const names = new Map<string, string>();
  for (const m of text.matchAll(
    /class (\w+) extends \w+ \{\n\s*override readonly name(?:: string)? = '(\w+)'/g,
  ))
    names.set(m[1]!, m[2]!);
  return names;
}

describe('error names are literals, not derived from the class', () => {
  it('finds the modules that declare error classes', () => {
    expect(declaring).toContain('functions/core/shared/errors.ts');
    expect(declaring).toContain('functions/core/restore/restore-plan.ts');
    expect(declaring.length).toBeGreaterThanOrEqual(7);
  });

  it.each(declaring)(
    '%s: every exported error class has its own name, spelt as a literal',
    async (file) => {
      const classes = await errorClasses(file);
      const literals = literalNames(file);
      const text = readFileSync(path.join(ROOT, file), 'utf8');
      expect(text).not.toMatch(/=\s*(new\.target|this\.constructor)\.name/);
      for (const [exported, Class] of classes) {
        const err = new Class('message');
        expect(err.name, `${file}: ${exported}`).toBe(exported);
        expect(literals.get(exported), `${file}: ${exported} spells its name as a literal`).toBe(exported);
      }
      // Every class declared extending an error is exported (and so checked above).
      const declared = [...text.matchAll(/class (\w+) extends (\w+) \{/g)].filter(([, , base]) =>
        base!.endsWith('Error'),
      );
      for (const [, name] of declared) expect(classes.map(([n]) => n)).toContain(name);
    },
    60_000,
  );

  it('what the check guards against: a subclass without its literal reports the base name', () => {
    class Forgetful extends LifeboatError {}
    // In source the class name would still read "Forgetful"; the literal is what survives minifying.
    expect(new Forgetful('x').name).toBe('LifeboatError');
    expect(new Forgetful('x').name).not.toBe(Forgetful.name);
  });
});

describe('names survive minifying (without keepNames too)', () => {
  const minified = async (source: string, file: string): Promise<Record<string, unknown>> => {
    const { buildSync } = await import('esbuild');
    const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-minify-'));
    try {
      const outfile = path.join(dir, file);
      buildSync({
        stdin: { contents: source, resolveDir: ROOT, loader: 'ts' },
        bundle: true,
        minify: true,
        keepNames: false,
        format: 'esm',
        platform: 'node',
        outfile,
        logLevel: 'silent',
      });
      return (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('the error classes, minified, keep their names', async () => {
    const mod = await minified(
      "export { TargetAlreadyExists, VerificationFailed } from './functions/core/restore/restore-plan.ts';",
      'a.mjs',
    );
    const Target = mod.TargetAlreadyExists as ErrorClass;
    expect(Target.name).not.toBe('TargetAlreadyExists');
    expect(new Target('x').name).toBe('TargetAlreadyExists');
    expect(new (mod.VerificationFailed as ErrorClass)('x').name).toBe('VerificationFailed');
  }, 60_000);

  it('a name derived from the class does not (what deployed code used to do)', async () => {
    const mod = await minified(
      `class Base extends Error { constructor(m: string) { super(m); this.name = new.target.name; } }
       export class TargetAlreadyExists extends Base {}`,
      'b.mjs',
    );
    expect(new (mod.TargetAlreadyExists as ErrorClass)('x').name).not.toBe('TargetAlreadyExists');
  }, 60_000);
});
