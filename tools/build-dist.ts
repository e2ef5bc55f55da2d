// Compiles the TypeScript sources to dist/ for the npm package (run by `npm run build` and before `npm pack`), and
// copies the files the code reads at run time next to it, at the same relative paths.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const assets = ['stack/kwok-stages.yaml', 'tools/versions.env', 'deploy/crds', 'deploy/Dockerfile'];

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
for (const asset of assets) cpSync(join(root, asset), join(dist, asset), { recursive: true });
console.log(`built ${dist}`);
