import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../bin/lifeboat.ts';

/** What `main` wrote to stdout and stderr, and its exit code. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, out, err };
}

afterEach(() => vi.restoreAllMocks());

describe('commands with a local and a deployed form', () => {
  it.each([
    ['backup', /usage: lifeboat backup --database-url/, /usage: lifeboat backup --env NAME/],
    ['verify', /usage: lifeboat verify <id\|latest> --repo/, /usage: lifeboat verify .*--env NAME/],
    ['restore', /usage: lifeboat restore <id\|latest> --repo/, /usage: lifeboat restore --env NAME/],
  ])('%s --help describes both forms', async (name, local, deployed) => {
    const { code, out } = await run([name, '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(local);
    expect(out).toContain('--- on AWS ---');
    expect(out).toMatch(deployed);
    expect(out.indexOf('--- on AWS ---')).toBeGreaterThan(out.search(local));
  });

  it.each([
    [['backup'], /lifeboat backup: --database-url is required/, /usage: lifeboat backup --database-url/],
    [
      ['backup', '--env'],
      /lifeboat backup: Option '--env <value>' argument missing/,
      /usage: lifeboat backup --env NAME/,
    ],
    [['verify'], /lifeboat verify: --repo is required/, /usage: lifeboat verify <id\|latest> --repo/],
    [
      ['restore'],
      /lifeboat restore: --target-url is required/,
      /usage: lifeboat restore <id\|latest> --repo/,
    ],
    [
      ['restore', '--env', 'dev'],
      /lifeboat restore: --database is required/,
      /usage: lifeboat restore --env NAME/,
    ],
    [
      ['restore', '--env=dev'],
      /lifeboat restore: --database is required/,
      /usage: lifeboat restore --env NAME/,
    ],
    [['backup', '--env=dev'], /lifeboat backup: --database is required/, /usage: lifeboat backup --env NAME/],
  ])('%j runs the form its arguments name', async (argv, message, usage) => {
    const { code, err } = await run(argv);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(err).toMatch(usage);
    expect(err).not.toContain('--- on AWS ---');
  });
});
