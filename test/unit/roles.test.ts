import { describe, expect, it } from 'vitest';
import { parseRoleStatements, readIdentifier, settingClause, splitStatements } from '#core/dumps/roles.ts';

/** pg_dumpall --roles-only --no-role-passwords output of PostgreSQL 15, with awkward names. */
const DUMPALL = `--
-- PostgreSQL database cluster dump
--

\\restrict mp5HBXHr5yUev8QadlcAQuasJQDb4KPghNjnjL2ifZ7vjHKc1hQ3FQpzvc6fQtp
SET default_transaction_read_only = off;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

CREATE ROLE "Odd ""Role"" ; x";
ALTER ROLE "Odd ""Role"" ; x" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE tmp_rw;
ALTER ROLE tmp_rw WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 VALID UNTIL '2030-01-01 00:00:00+00';
COMMENT ON ROLE tmp_rw IS 'it''s; a
multi-line "comment"';
ALTER ROLE tmp_rw SET search_path TO 'app', '$user';
GRANT "Odd ""Role"" ; x" TO tmp_rw WITH ADMIN OPTION GRANTED BY postgres;
GRANT readers TO "Odd ""Role"" ; x" WITH INHERIT TRUE GRANTED BY "Some ""Admin""";
GRANT SELECT ON TABLE t TO tmp_rw;

\\unrestrict mp5HBXHr5yUev8QadlcAQuasJQDb4KPghNjnjL2ifZ7vjHKc1hQ3FQpzvc6fQtp
`;

describe("pg_dumpall's role statements, filtered by role", () => {
  it('splits statements at semicolons outside quotes, without comments and psql meta-commands', () => {
    const statements = splitStatements(DUMPALL);
    expect(statements[0]).toBe('SET default_transaction_read_only = off;');
    expect(statements).toContain(`COMMENT ON ROLE tmp_rw IS 'it''s; a\nmulti-line "comment"';`);
    expect(statements.some((s) => s.includes('restrict'))).toBe(false);
    expect(statements).toHaveLength(12);
  });

  it('reads role names as PostgreSQL quotes them', () => {
    expect(readIdentifier('"Odd ""Role"" ; x" WITH', 0)).toEqual({ name: 'Odd "Role" ; x', end: 18 });
    expect(readIdentifier('tmp_rw;', 0)).toEqual({ name: 'tmp_rw', end: 6 });
    expect(readIdentifier('"unterminated', 0)).toBeNull();
  });

  it('files each statement under its role; memberships apart, without the grantor', () => {
    const parsed = parseRoleStatements(DUMPALL);
    expect([...parsed.byRole.keys()]).toEqual(['Odd "Role" ; x', 'tmp_rw']);
    expect(parsed.byRole.get('tmp_rw')).toHaveLength(4);
    expect(parsed.memberships).toEqual([
      {
        role: 'Odd "Role" ; x',
        member: 'tmp_rw',
        admin: true,
        statement: 'GRANT "Odd ""Role"" ; x" TO tmp_rw WITH ADMIN OPTION;',
      },
      {
        role: 'readers',
        member: 'Odd "Role" ; x',
        admin: false,
        statement: 'GRANT readers TO "Odd ""Role"" ; x" WITH INHERIT TRUE;',
      },
    ]);
  });

  it('writes settings back: lists as PostgreSQL stored them, other values as literals', () => {
    expect(settingClause({ name: 'search_path', value: 'app, "$user"' })).toBe('search_path TO app, "$user"');
    expect(settingClause({ name: 'statement_timeout', value: "30s'; DROP ROLE x; --" })).toBe(
      "statement_timeout TO '30s''; DROP ROLE x; --'",
    );
    expect(settingClause({ name: 'app.path', value: 'C:\\x' })).toBe("app.path TO E'C:\\\\x'");
    expect(() => settingClause({ name: 'x; DROP', value: '1' })).toThrow(/cannot be written back/);
  });
});
