// The files deploy/ ships agree with the repository: the chart's CRDs are deploy/crds, and the image holds every module
// its entry point loads, compiled (no Docker here to build it, so what the Dockerfile copies and builds is checked).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { imageNodeOptions } from '../../stack/operator-process.ts';

const root = join(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const dockerfile = read('deploy/Dockerfile');
/** Sources of the COPY instructions that read the build context (not another stage). */
const copied = [
  ...new Set(
    [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((match) => {
      const words = match[1]!.trim().split(/\s+/);
      return words.slice(0, -1).map((source) => source.replace(/\/$/, ''));
    }),
  ),
];
const entryPoint = (JSON.parse(/^ENTRYPOINT\s+(.+)$/m.exec(dockerfile)![1]!) as string[])[1]!;
/** The source a file of dist/ is compiled from (tsconfig.build.json: rootDir `.`, outDir `dist`). */
const sourceOf = (compiled: string) => compiled.replace(/^dist\//, '').replace(/\.js$/, '.ts');
const buildConfig = JSON.parse(read('tsconfig.build.json')) as {
  include: string[];
  compilerOptions: { outDir: string };
};
/** The files `tools/build-dist.ts` copies into dist/ beside the compiled code. */
const buildAssets = JSON.parse(
  /const assets = (\[[^\]]*\])/.exec(read('tools/build-dist.ts'))![1]!.replaceAll("'", '"'),
) as string[];
const dependencies = Object.keys((JSON.parse(read('package.json')) as { dependencies: object }).dependencies);

/** Loaded on demand by a command the image has no use for: `arcane dev` runs a local stack. */
const OUTSIDE_THE_IMAGE = new Set(['cli/dev.ts']);

/**
 * Specifiers a module loads when it runs: static imports and re-exports, not type-only ones (Node erases those), and
 * modules imported on demand (each process loads its own runtime that way).
 */
function runtimeImports(source: string): string[] {
  const statements = source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm);
  const onDemand = source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g);
  return [...statements, ...onDemand].map((match) => match[1]!);
}

/** Every repository file and package a module reaches through runtime imports. */
function moduleGraph(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file) || OUTSIDE_THE_IMAGE.has(file)) return;
    files.add(file);
    for (const specifier of runtimeImports(read(file))) {
      if (specifier.startsWith('.')) visit(relative(root, resolve(root, dirname(file), specifier)));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        const [scope, name] = specifier.split('/');
        packages.add(specifier.startsWith('@') ? `${scope}/${name}` : scope!);
      }
    }
  };
  entries.forEach(visit);
  return { files, packages };
}

describe('deploy files', () => {
  it('the chart ships the CRDs of deploy/crds byte for byte', () => {
    const chartCrds = 'deploy/chart/arcane-temporal/crds';
    const names = readdirSync(join(root, 'deploy/crds')).sort();
    assert.deepEqual(readdirSync(join(root, chartCrds)).sort(), names);
    for (const name of names) {
      assert.ok(
        read(`${chartCrds}/${name}`) === read(`deploy/crds/${name}`),
        `${chartCrds}/${name} differs: copy it again`,
      );
    }
  });

  it('the image sets Node options, which the processes the tests and the benchmark start use too', () => {
    assert.match(imageNodeOptions(dockerfile), /^--max-semi-space-size=\d+$/);
    assert.throws(() => imageNodeOptions('FROM node\nENV NODE_ENV=production\n'), /sets no NODE_OPTIONS/);
  });

  it('every path the Dockerfile copies from the build context exists', () => {
    assert.ok(copied.length > 0);
    assert.deepEqual(
      copied.filter((path) => !existsSync(join(root, path))),
      [],
    );
  });

  it('the build context admits exactly what the Dockerfile copies', () => {
    const admitted = read('deploy/Dockerfile.dockerignore')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1));
    assert.deepEqual(admitted.sort(), [...copied].sort());
  });

  it('the image runs the compiled code its build stage makes, of everything the build reads', () => {
    assert.match(entryPoint, /^dist\/.+\.js$/, 'the entry point is not compiled code');
    assert.equal(buildConfig.compilerOptions.outDir, 'dist');
    assert.match(dockerfile, /^FROM \S+ AS build$/m);
    assert.match(dockerfile, /^RUN node tools\/build-dist\.ts$/m);
    assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
    const read = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tools/build-dist.ts'];
    const missing = [...read, ...buildConfig.include, ...buildAssets].filter(
      (path) => !copied.some((source) => path === source || path.startsWith(`${source}/`)),
    );
    assert.deepEqual(missing, [], 'what the build reads and the Dockerfile does not copy');
  });

  it('the entry point and the workflow bundle load only compiled modules and production dependencies', () => {
    const entry = sourceOf(entryPoint);
    assert.ok(existsSync(join(root, entry)), `the source of the image's entry point, ${entry}, does not exist`);
    // The worker bundles workflows/ at start, so the bundle's imports must be in the image too.
    const { files, packages } = moduleGraph([entry, 'workflows/index.ts']);
    // The processes' runtimes are imported on demand, and followed as any import is.
    assert.ok(files.has('watcher/watcher.ts') && files.has('worker/worker.ts'), 'the runtimes are not in the graph');
    const outside = [...files].filter((file) => !buildConfig.include.some((path) => file.startsWith(`${path}/`)));
    assert.deepEqual(outside, [], 'modules the build does not compile');
    assert.deepEqual(
      [...packages].filter((name) => !dependencies.includes(name)),
      [],
      'packages that `npm install --omit=dev` leaves out',
    );
  });
});
