// The workflow code bundle, built once per version of the code and kept on disk. Bundling runs webpack, which costs
// seconds of CPU and hundreds of MiB that a Node process never hands back; a short-lived child process does it, so the
// worker's own memory holds only the bundle, and later starts of the same code read the file.
//   node worker/workflow-bundle.ts <output file>    (what the worker runs as the child; also usable at image build;
//   node dist/worker/workflow-bundle.js <output file> from the package)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { Logger } from 'pino';

const ROOT = join(import.meta.dirname, '..');
/** `.ts` when this runs from the sources, `.js` when it runs from the package's compiled dist/. */
const EXTENSION = extname(import.meta.filename);
export const workflowsPath = join(ROOT, `workflows/index${EXTENSION}`);
/** What the workflow code may import: the workflows, and the pure modules and types they use. */
const SOURCE_FOLDERS = ['workflows', 'resources', 'client', 'activities'];

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(EXTENSION))
    .map((file) => join(folder, file))
    .filter((file) => statSync(file).isFile())
    .sort();
}

/** A digest of the code the bundle is built from and of the SDK that builds it: a new digest means a new bundle. */
export function workflowCodeDigest(): string {
  const hash = createHash('sha256');
  // Resolved as the bundler resolves it: an installed package finds the SDK beside it, not in a node_modules of its own.
  const sdk = createRequire(import.meta.url).resolve('@temporalio/workflow/package.json');
  hash.update((JSON.parse(readFileSync(sdk, 'utf8')) as { version: string }).version);
  for (const file of SOURCE_FOLDERS.flatMap((folder) => sourceFiles(join(ROOT, folder)))) {
    hash.update(file.slice(ROOT.length)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Bundles the workflow code into `output`, written whole or not at all. */
export async function writeWorkflowBundle(output: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  mkdirSync(dirname(output), { recursive: true });
  const partial = `${output}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, output);
}

// webpack's progress lines are noise in the worker's log; failures still throw.
const quietLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  log: () => {},
};

function bundleInChild(output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, output], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`bundling the workflow code failed (exit ${code}):\n${stderr}`)),
    );
  });
}

/**
 * The path of a bundle of the current workflow code under `cacheDir` (the system's temporary folder by default),
 * built by a child process when there is none yet.
 */
export async function workflowBundlePath(
  logger: Logger,
  cacheDir = join(tmpdir(), 'arcane-temporal'),
): Promise<string> {
  const path = join(cacheDir, `workflows-${workflowCodeDigest()}.js`);
  if (existsSync(path)) {
    logger.info({ path }, 'workflow code bundle found');
    return path;
  }
  const started = Date.now();
  await bundleInChild(path);
  logger.info({ path, ms: Date.now() - started }, 'workflow code bundled');
  return path;
}

if (import.meta.main) {
  const output = process.argv[2];
  if (!output) throw new Error(`usage: node ${import.meta.filename} <output file>`);
  await writeWorkflowBundle(output);
}
