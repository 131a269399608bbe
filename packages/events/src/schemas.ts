import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * schemas/ at the repository root is the single source of truth. This file sits at the same
 * depth in src/ and dist/, so the relative path holds for both.
 */
export const SCHEMAS_DIR = process.env.AUDIT_SCHEMAS_DIR ?? fileURLToPath(new URL('../../../schemas/', import.meta.url));

export function readSchemaFile(relative: string): unknown {
  return JSON.parse(readFileSync(path.join(SCHEMAS_DIR, relative), 'utf8'));
}
