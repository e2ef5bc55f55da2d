// The worker's workflow bundle: built once by a child process for a version of the code, then found on disk by every
// later start; a code change means a new bundle.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { workflowBundlePath, workflowCodeDigest } from '../../../worker/workflow-bundle.ts';

describe('workflow bundle', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'arcane-bundle-test-'));
  after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const logger = pino({ level: 'silent' });

  it('is built into the cache folder under the digest of the code, and found there the next time', async () => {
    const digest = workflowCodeDigest();
    assert.match(digest, /^[0-9a-f]{16}$/);
    const path = await workflowBundlePath(logger, cacheDir);
    assert.equal(path, join(cacheDir, `workflows-${digest}.js`));
    const code = readFileSync(path, 'utf8');
    // The stream workflow the worker registers is in it.
    assert.match(code, /streamWorkflow/);
    const built = statSync(path).mtimeMs;
    assert.equal(await workflowBundlePath(logger, cacheDir), path);
    assert.equal(statSync(path).mtimeMs, built, 'a bundle of the same code is not built again');
    assert.equal(existsSync(`${path}.partial`), false);
  });
});
