#!/usr/bin/env node
// The `arcane` executable. In a checkout (npm link, npm install -g <folder>) it runs the TypeScript sources, so it is
// never stale; installed from a package it runs the JavaScript compiled into dist/, because Node strips types only
// outside node_modules.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../cli/arcane.ts', import.meta.url);
const compiled = new URL('../dist/cli/arcane.js', import.meta.url);
const runsTypeScript = Boolean(process.features.typescript) && !fileURLToPath(source).includes('/node_modules/');
const entry = runsTypeScript && existsSync(source) ? source : compiled;
if (!existsSync(entry)) {
  process.stderr.write('arcane: dist/ is missing: run `npm run build` in the package folder, or use Node >= 22.18\n');
  process.exit(1);
}
const { runArcane } = await import(entry.href);
process.exitCode = await runArcane(process.argv);
