import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { runRestore } from '#core/restore/restore.ts';
import { checkRoles, readRoles } from '#core/dumps/roles.ts';
import { runVerify } from '#core/verify/verify.ts';

/**
 * The moment lifeboat exists for: a dump restored onto a brand-new server that has none of the
 * database's roles. The source has an owner role, a NOLOGIN group with a LOGIN member, a role with
 * an awkward quoted name, column and default privileges, RLS policies naming roles, per-role and
 * per-database settings and database grants; the target is a freshly initialized cluster.
 */

const ODD = 'Odd "Role" ; x';
const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

const SOURCE_SETUP = [
  `CREATE ROLE app_owner NOLOGIN`,
  `CREATE ROLE readers NOLOGIN`,
  `CREATE ROLE app_rw LOGIN CONNECTION LIMIT 20`,
  `CREATE ROLE report_bot LOGIN IN ROLE readers`,
  `CREATE ROLE ${q(ODD)} NOLOGIN`,
  `GRANT readers TO app_rw WITH ADMIN OPTION`,
  `ALTER ROLE app_rw SET search_path TO app, "$user", public`,
  `ALTER ROLE app_rw SET statement_timeout TO '30s'`,
  `COMMENT ON ROLE app_rw IS 'the application''s
read-write role'`,
  `CREATE DATABASE shop OWNER app_owner`,
  `ALTER DATABASE shop SET timezone TO 'Europe/Berlin'`,
  `ALTER ROLE report_bot IN DATABASE shop SET work_mem TO '16MB'`,
  `REVOKE ALL ON DATABASE shop FROM PUBLIC`,
  `GRANT CONNECT ON DATABASE shop TO app_rw, readers, ${q(ODD)}`,
  `GRANT TEMPORARY ON DATABASE shop TO app_rw WITH GRANT OPTION`,
];

const SHOP_SETUP = [
  `CREATE SCHEMA app AUTHORIZATION app_owner`,
  `SET ROLE app_owner`,
  `ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO readers`,
  `CREATE TABLE app.orders (id serial PRIMARY KEY, tenant text NOT NULL, customer text, secret text)`,
  `CREATE TABLE app.items (order_id int REFERENCES app.orders, sku text)`,
  `GRANT USAGE ON SCHEMA app TO app_rw, readers, ${q(ODD)}`,
  `GRANT SELECT, INSERT, UPDATE ON app.orders TO app_rw`,
  `GRANT USAGE ON SEQUENCE app.orders_id_seq TO app_rw`,
  `GRANT SELECT (id, customer) ON app.orders TO ${q(ODD)}`,
  `CREATE FUNCTION app.order_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.orders'`,
  `REVOKE EXECUTE ON FUNCTION app.order_count() FROM PUBLIC`,
  `GRANT EXECUTE ON FUNCTION app.order_count() TO readers`,
  `ALTER TABLE app.orders ENABLE ROW LEVEL SECURITY`,
  `CREATE POLICY tenant_rw ON app.orders TO app_rw USING (tenant = 'acme') WITH CHECK (tenant = 'acme')`,
  `CREATE POLICY read_all ON app.orders FOR SELECT TO readers, ${q(ODD)} USING (true)`,
  `INSERT INTO app.orders (tenant, customer, secret) SELECT CASE WHEN g % 3 = 0 THEN 'other' ELSE 'acme' END, 'c' || g, md5(g::text) FROM generate_series(1, 300) g`,
  `INSERT INTO app.items SELECT id, 'sku-' || id FROM app.orders`,
  `RESET ROLE`,
];

const ROLES = ['app_owner', 'readers', 'app_rw', 'report_bot', ODD];

async function withClient<T>(
  cluster: EphemeralCluster,
  database: string,
  fn: (c: pg.Client) => Promise<T>,
  user = 'postgres',
): Promise<T> {
  const client = new pg.Client({ ...cluster.connection(database), user });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Everything about roles, grants and settings that must be equal after a restore, as text. */
async function shape(cluster: EphemeralCluster, database: string) {
  return withClient(cluster, database, async (c) => {
    const rows = async (sql: string, params: unknown[] = []) => (await c.query(sql, params)).rows;
    return {
      roles: await rows(
        `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                rolbypassrls, rolconnlimit, rolvaliduntil, rolconfig, shobj_description(oid, 'pg_authid') AS comment
           FROM pg_roles WHERE rolname = ANY($1) ORDER BY rolname`,
        [ROLES],
      ),
      memberships: await rows(
        `SELECT pg_get_userbyid(roleid) AS role, pg_get_userbyid(member) AS member, admin_option
           FROM pg_auth_members WHERE pg_get_userbyid(member) = ANY($1) ORDER BY 1, 2`,
        [ROLES],
      ),
      roleSettingsInDatabase: await rows(
        `SELECT pg_get_userbyid(setrole) AS role, setconfig FROM pg_db_role_setting
          WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1`,
      ),
      database: await rows(
        `SELECT pg_get_userbyid(datdba) AS owner, datacl::text[] AS acl FROM pg_database WHERE datname = current_database()`,
      ),
      objects: await rows(
        `SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl,
                (SELECT array_agg(a.attname || '=' || a.attacl::text ORDER BY a.attnum) FROM pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL) AS column_acl
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app' ORDER BY 2`,
      ),
      schemas: await rows(
        `SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text[] AS acl FROM pg_namespace WHERE nspname = 'app'`,
      ),
      defaultPrivileges: await rows(
        `SELECT pg_get_userbyid(defaclrole) AS role, defaclnamespace::regnamespace::text AS schema, defaclobjtype, defaclacl::text[] AS acl
           FROM pg_default_acl ORDER BY 1, 2, 3`,
      ),
      policies: await rows(
        `SELECT tablename, policyname, cmd, roles::text[] AS roles, qual, with_check FROM pg_policies ORDER BY 1, 2`,
      ),
      rows: await rows(
        `SELECT (SELECT string_agg(o::text, ',' ORDER BY id) FROM app.orders o) AS orders,
                (SELECT string_agg(i::text, ',' ORDER BY order_id) FROM app.items i) AS items`,
      ),
    };
  });
}

describe('restore onto a brand-new server: --create-roles', () => {
  let source: EphemeralCluster;
  let target: EphemeralCluster;
  let dir: string;
  let repository: Repository;
  let manifest: DumpManifest;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-roles-'));
    [source, target] = await Promise.all([EphemeralCluster.start(), EphemeralCluster.start()]);
    await withClient(source, 'postgres', async (c) => {
      for (const sql of SOURCE_SETUP) await c.query(sql);
    });
    await withClient(source, 'shop', async (c) => {
      for (const sql of SHOP_SETUP) await c.query(sql);
    });
    repository = openRepository(pathToFileURL(path.join(dir, 'repo')).href);
    manifest = await runBackup({ connection: source.connection('shop'), repository, database: 'shop' });
  });

  afterAll(async () => {
    await Promise.all([source?.stop(), target?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores the roles the database needs beside the dump, hashed in the manifest, without passwords', async () => {
    expect(manifest.roles).toMatchObject({ key: 'artifacts/shop/' + manifest.id + '.roles.json', count: 5 });
    expect(manifest.rolesError).toBeUndefined();
    const doc = await readRoles(repository, manifest);
    expect(doc.roles.map((r) => r.name).sort()).toEqual([...ROLES].sort());
    // The cluster's superuser owns nothing here, so it is not needed; predefined roles never are.
    expect(JSON.stringify(doc)).not.toMatch(/PASSWORD|SCRAM-SHA-256|md5[0-9a-f]{32}/);
    expect(doc.memberships.map((m) => `${m.member}>${m.role}:${m.admin}`).sort()).toEqual([
      'app_rw>readers:true',
      'report_bot>readers:false',
    ]);
    expect(doc.databaseSettings.settings).toEqual([{ name: 'TimeZone', value: 'Europe/Berlin' }]);
    expect(doc.roleSettingsInDatabase).toEqual([{ role: 'report_bot', name: 'work_mem', value: '16MB' }]);
  });

  it('verification replays the roles in its ephemeral cluster and checks them against the source', async () => {
    const report = await runVerify({ repository, ref: manifest.id, database: 'shop' });
    const roles = report.checks.find((c) => c.name === 'roles');
    expect(roles).toMatchObject({ passed: true, failures: [] });
    expect(roles!.detail).toMatch(
      /^5 roles, 2 memberships, 1 database settings, \d+ owners and grants match the source$/,
    );
    expect(report.passed).toBe(true);
  });

  it('without --create-roles the restore refuses, naming the missing roles, and changes nothing', async () => {
    await withClient(target, 'postgres', (c) => c.query('CREATE DATABASE refused'));
    await expect(
      runRestore({ repository, ref: manifest.id, target: target.connection('refused') }),
    ).rejects.toThrow(/do not exist on .*: .*app_owner.*--create-roles does/);
    const roles = await withClient(target, 'postgres', (c) =>
      c.query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1)', [ROLES]),
    );
    expect(roles.rows[0].n).toBe(0);
  });

  it('creates the roles, then restores with owners, grants, memberships, settings and every row equal to the source', async () => {
    await withClient(target, 'postgres', (c) => c.query('CREATE DATABASE shop'));

    const report = await runRestore({
      repository,
      ref: manifest.id,
      target: target.connection('shop'),
      createRoles: true,
    });

    expect(report.passed).toBe(true);
    expect(report.roles!.created.sort()).toEqual([...ROLES].sort());
    expect(report.roles!.needPassword.sort()).toEqual(['app_rw', 'report_bot']);
    expect(report.roles!.existing).toEqual([]);
    expect(await shape(target, 'shop')).toEqual(await shape(source, 'shop'));
  });

  it('the application connects as app_rw and reads and writes as before, within its policy', async () => {
    const asApp = async (cluster: EphemeralCluster) =>
      withClient(
        cluster,
        'shop',
        async (c) => {
          const seen = (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0].n as number;
          const path = (await c.query('SHOW search_path')).rows[0].search_path as string;
          await c.query(`INSERT INTO orders (tenant, customer) VALUES ('acme', 'new')`);
          await c.query(`UPDATE orders SET customer = 'changed' WHERE id = 1`);
          const other = await c.query(`INSERT INTO orders (tenant, customer) VALUES ('other', 'x')`).then(
            () => 'allowed',
            (e: Error) => e.message,
          );
          return { seen, path, other };
        },
        'app_rw',
      );
    const onSource = await asApp(source);
    // app_rw is a member of readers, whose policy shows every row; its own policy limits writes.
    expect(onSource).toMatchObject({ seen: 300, path: 'app, "$user", public' });
    expect(onSource.other).toMatch(/violates row-level security policy/);
    expect(await asApp(target)).toEqual(onSource);
    // The awkwardly named role reads the granted columns only, on both.
    const asOdd = (cluster: EphemeralCluster) =>
      withClient(
        cluster,
        'shop',
        async (c) => {
          await c.query(`SET ROLE ${q(ODD)}`);
          const ok = (await c.query('SELECT count(customer)::int AS n FROM app.orders')).rows[0].n as number;
          const secret = await c.query('SELECT secret FROM app.orders LIMIT 1').then(
            () => 'allowed',
            (e: Error) => e.message,
          );
          return { ok, secret };
        },
        'postgres',
      );
    expect(await asOdd(target)).toEqual(await asOdd(source));
    expect((await asOdd(target)).secret).toMatch(/permission denied/);
  });

  it('the roles check fails when a role the dump names is missing from the artifact, or differs', async () => {
    const doc = await readRoles(repository, manifest);
    const check = await checkRoles(target.connection('shop'), doc, ['app_rw', 'ghost']);
    expect(check.passed).toBe(false);
    expect(check.failures).toEqual(['the dump names role ghost, which the roles artifact lacks']);
    const changed = {
      ...doc,
      roles: doc.roles.map((r) =>
        r.name === 'readers' ? { ...r, attributes: { ...r.attributes, createDb: true } } : r,
      ),
    };
    expect((await checkRoles(target.connection('shop'), changed, [])).failures).toEqual([
      'role readers: createDb: true on the source, false here',
    ]);
  });

  it('roles that exist are left as they are, and what differs is reported', async () => {
    await withClient(target, 'postgres', async (c) => {
      await c.query('ALTER ROLE readers CONNECTION LIMIT 3');
      await c.query('CREATE DATABASE shop2');
    });

    const report = await runRestore({
      repository,
      ref: manifest.id,
      target: target.connection('shop2'),
      createRoles: true,
    });

    expect(report.roles!.created).toEqual([]);
    expect(report.roles!.existing.find((e) => e.role === 'readers')).toEqual({
      role: 'readers',
      differences: ['connectionLimit: -1 on the source, 3 here'],
    });
    const limit = await withClient(target, 'postgres', (c) =>
      c.query(`SELECT rolconnlimit FROM pg_roles WHERE rolname = 'readers'`),
    );
    expect(limit.rows[0].rolconnlimit).toBe(3);
    expect(report.passed).toBe(true);
  });

  it('lifeboat restore --create-roles says what it created and which roles need a password', async () => {
    const fresh = await EphemeralCluster.start();
    try {
      await withClient(fresh, 'postgres', (c) => c.query('CREATE DATABASE shop'));
      const cli = fileURLToPath(new URL('../../bin/lifeboat.mjs', import.meta.url));
      const run = spawnSync(
        process.execPath,
        [
          cli,
          'restore',
          manifest.id,
          '--repo',
          pathToFileURL(path.join(dir, 'repo')).href,
          '--target-url',
          fresh.url('shop'),
          '--create-roles',
        ],
        { encoding: 'utf8' },
      );
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^roles created: Odd "Role" ; x, app_owner, app_rw, readers, report_bot$/m);
      expect(run.stdout).toMatch(
        /^memberships granted: app_rw in readers \(with admin option\), report_bot in readers$/m,
      );
      expect(run.stdout).toMatch(
        /^set a password before app_rw can log in: ALTER ROLE "app_rw" PASSWORD '…'/m,
      );
      expect(run.stdout).toMatch(/^restored backup .* of "shop"/m);
    } finally {
      await fresh.stop();
    }
  });

  it('the roles check compares owners, object, column and database grants and default privileges, naming each difference', async () => {
    await withClient(target, 'postgres', (c) => c.query('CREATE DATABASE perms'));
    const report = await runRestore({
      repository,
      ref: manifest.id,
      target: target.connection('perms'),
      createRoles: true,
    });
    const doc = await readRoles(repository, manifest);
    const existing = report.roles!.existing.map((e) => e.role);
    expect(Object.keys(doc.permissions!).length).toBeGreaterThan(10);
    expect(doc.permissions).toMatchObject({
      'table app.orders owner': 'app_owner',
      'table app.orders grant to app_rw': 'INSERT, SELECT, UPDATE',
      [`column app.orders(customer) grant to ${ODD}`]: 'SELECT',
      'sequence app.orders_id_seq grant to app_rw': 'USAGE',
      'function app.order_count() grant to readers': 'EXECUTE',
      'default privileges of app_owner in schema app on tables grant to readers': 'SELECT',
    });
    expect(doc.permissions!['function app.order_count() grant to PUBLIC']).toBeUndefined();
    const faithful = await checkRoles(target.connection('perms'), doc, [], existing);
    expect(faithful).toMatchObject({ passed: true, failures: [] });

    await withClient(target, 'perms', async (c) => {
      await c.query(`REVOKE SELECT (customer) ON app.orders FROM ${q(ODD)}`);
      await c.query('ALTER TABLE app.items OWNER TO app_rw');
      await c.query('REVOKE USAGE ON SEQUENCE app.orders_id_seq FROM app_rw');
      await c.query('GRANT EXECUTE ON FUNCTION app.order_count() TO PUBLIC');
      await c.query('GRANT CREATE ON SCHEMA app TO readers');
      await c.query(
        'ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app REVOKE SELECT ON TABLES FROM readers',
      );
      await c.query('REVOKE CONNECT ON DATABASE perms FROM readers');
    });
    const changed = await checkRoles(target.connection('perms'), doc, [], existing);
    expect(changed.passed).toBe(false);
    expect(changed.failures).toEqual([
      expect.stringMatching(/^database grants .*, source .*readers CONNECT/),
      `column app.orders(customer) grant to ${ODD}: none here, SELECT on the source`,
      'default privileges of app_owner in schema app on tables grant to readers: none here, SELECT on the source',
      'function app.order_count() grant to PUBLIC: EXECUTE here, none on the source',
      'schema app grant to readers: CREATE, USAGE here, USAGE on the source',
      'sequence app.orders_id_seq grant to app_rw: none here, USAGE on the source',
      'table app.items grant to app_owner: none here, DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE on the source',
      'table app.items grant to app_rw: DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE here, none on the source',
      'table app.items owner: app_rw here, app_owner on the source',
    ]);
    expect(changed.detail).toMatch(/: 9 differ$/);
  });

  it("the restore workflow's mode: roles from the backup when it has them", async () => {
    await withClient(target, 'postgres', (c) => c.query('CREATE DATABASE shop3'));
    const report = await runRestore({
      repository,
      ref: manifest.id,
      target: target.connection('shop3'),
      createRoles: 'when-captured',
    });
    expect(report.roles).toMatchObject({ created: [], needPassword: [] });
    expect(await shape(target, 'shop3')).toMatchObject({ database: (await shape(source, 'shop')).database });
  });
});
