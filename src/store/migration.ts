/**
 * One versioned schema step. Both stores number their lists alike
 * (sqlite/migrations.ts, postgres/migrations.ts) so version N means the same
 * tables in both; test/schema-parity.test.ts applies both lists and compares
 * the resulting schemas.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}
