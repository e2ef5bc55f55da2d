// Compiles the TypeScript sources to dist/ for the npm package (run by `npm run build` and before `npm pack`), bundles
// the parts of the Kubernetes client that the operator uses, and copies the files the code reads at run time next to
// it, at the same relative paths.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const assets = ['stack/kwok-stages.yaml', 'tools/versions.env', 'deploy/crds', 'deploy/Dockerfile'];

/**
 * The module through which the operator's code uses @kubernetes/client-node. Compiled, it re-exports from the library's
 * index, which loads the generated client of every Kubernetes API; bundled, it holds only what it exports and what that
 * needs. undici stays a package of its own: the operator's HTTP layer uses it too, and one copy serves both.
 */
const KUBERNETES_CLIENT = 'kubernetes/client-node';

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
await build({
  entryPoints: [join(root, `${KUBERNETES_CLIENT}.ts`)],
  outfile: join(dist, `${KUBERNETES_CLIENT}.js`),
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external: ['undici'],
  // The library's dependencies are CommonJS: in an ES module bundle their `require` of Node's modules needs one.
  banner: { js: "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);" },
  // Whitespace and syntax only, names kept (stack traces still name the library's functions): Node holds a module's
  // source text in memory for as long as its functions live, twice the file's size, and the bundle's is 5 MB unminified.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
});
for (const asset of assets) cpSync(join(root, asset), join(dist, asset), { recursive: true });
console.log(`built ${dist}`);
