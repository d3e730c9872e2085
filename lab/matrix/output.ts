/** Writing a report: matrix.json, MATRIX.md and matrix.html in one directory. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-md.ts';
import type { MatrixReport } from './types.ts';

/** The files {@link writeReport} writes. */
export interface ReportFiles {
  readonly json: string;
  readonly markdown: string;
  readonly html: string;
}

/** Writes the three renderings of `report` into `dir` (created when missing). */
export function writeReport(report: MatrixReport, dir: string): ReportFiles {
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, 'matrix.json'), markdown: join(dir, 'MATRIX.md'), html: join(dir, 'matrix.html') };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.markdown, renderMarkdown(report));
  writeFileSync(files.html, renderHtml(report));
  return files;
}
