// Types of scripts/gen-abi.mjs for the tests that import it.

/** One constant of assembly/layout.ts. */
export interface LayoutField {
  name: string;
  type: string;
  value: number;
  doc: string | undefined;
  key?: string;
}

/** One `// @record` of assembly/layout.ts. */
export interface LayoutRecord {
  name: string;
  doc: string;
  fields: LayoutField[];
}

/** Parses layout.ts into records, top-level constants and every constant's value. */
export function parseLayout(text: string): { records: LayoutRecord[]; top: LayoutField[]; values: Map<string, number> };
/** FNV-1a over NAME=VALUE lines of every constant in source order. */
export function layoutHash(values: Map<string, number>): number;
/** The generated files for layout source `text`, by repository path. */
export function render(text: string): Record<string, string>;
/** Writes (or, with `check`, only compares) the generated files; returns the stale paths. */
export function generate(options?: { check?: boolean }): string[];
