/**
 * Writes one JSON Schema per outcome event into schemas/outcomes/<DetailType>.json (from
 * lambdas/domain/outcome-schemas.ts), formatted as the repository formats JSON; removes the file of
 * an outcome that no longer exists. Run by `npm run docs` (scripts/docs-reference.ts);
 * test/unit/outcome-schemas.test.ts regenerates them in memory and fails when a file differs.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  OUTCOME_SCHEMA_DIR,
  OUTCOME_TYPES,
  outcomeSchema,
  outcomeSchemaPath,
} from '../lambdas/domain/outcome-schemas';

/** Every schema file's content by its path relative to the repository root. */
export async function generateOutcomeSchemaFiles(root: string): Promise<Record<string, string>> {
  const prettier = await import('prettier');
  const files: Record<string, string> = {};
  for (const type of OUTCOME_TYPES) {
    const file = outcomeSchemaPath(type);
    const config = (await prettier.resolveConfig(path.join(root, file))) ?? {};
    files[file] = await prettier.format(JSON.stringify(outcomeSchema(type)), { ...config, parser: 'json' });
  }
  return files;
}

/** Writes the schema files (and removes stale ones); returns how many were written. */
export async function writeOutcomeSchemas(root: string): Promise<number> {
  const files = await generateOutcomeSchemaFiles(root);
  const dir = path.join(root, OUTCOME_SCHEMA_DIR);
  mkdirSync(dir, { recursive: true });
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const file = `${OUTCOME_SCHEMA_DIR}/${name}`;
    if (name.endsWith('.json') && files[file] === undefined) rmSync(path.join(root, file));
  }
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(root, file), content);
  return Object.keys(files).length;
}
