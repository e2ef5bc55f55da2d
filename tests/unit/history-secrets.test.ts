// No secret value ever enters a payload: checked over every recorded workflow history.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadAllYaml } from '@kubernetes/client-node';
import { historyText } from '../history-payloads.ts';

const fixtures = join(import.meta.dirname, '../fixtures');

it('recorded histories hold no value of the test plugin Secret, plain or base64', () => {
  const [secret] = loadAllYaml(readFileSync(join(fixtures, 'plugin/secret.yaml'), 'utf8')) as {
    stringData: Record<string, string>;
  }[];
  const values = Object.values(secret!.stringData);
  assert.ok(values.length > 0);
  const files = readdirSync(join(fixtures, 'histories')).filter((file) => file.startsWith('stream-secret'));
  assert.ok(files.length > 0, 'a history of a stream with a secretRef is recorded');
  for (const file of files) {
    const history = historyText(readFileSync(join(fixtures, 'histories', file), 'utf8'));
    assert.match(history, /"streamClass":"mock-stream-v2"/, `${file} is a history of the stream using the Secret`);
    for (const value of values) {
      assert.ok(!history.includes(value), `${file} contains a secret value`);
      assert.ok(!history.includes(Buffer.from(value).toString('base64')), `${file} contains a secret value (base64)`);
    }
  }
});
