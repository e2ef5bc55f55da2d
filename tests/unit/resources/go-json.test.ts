// The serialiser and hash against Go's own output (tests/fixtures/go-json-vectors.json, made by tools/gojson).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { configurationHash } from '../../../resources/configuration-hash.ts';
import { goJson, type JsonObject, type JsonValue } from '../../../resources/go-json.ts';
import { specJson } from '../../../resources/stream-context.ts';

interface Vector {
  input: string;
  json: string;
  md5: string;
}

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/go-json-vectors.json', import.meta.url), 'utf8'),
) as Vector[];

describe("Go's encoding/json vectors", () => {
  for (const vector of vectors) {
    test(`serialises ${vector.input.slice(0, 60)} byte for byte`, () => {
      const value = JSON.parse(vector.input) as JsonValue;
      assert.equal(goJson(value), vector.json);
      assert.equal(createHash('md5').update(goJson(value), 'utf8').digest('hex'), vector.md5);
    });
  }

  test('hashes every object vector to the md5 Go computed', () => {
    const objects = vectors.filter((vector) => vector.input.startsWith('{'));
    assert.ok(objects.length >= 4);
    for (const vector of objects) {
      assert.equal(configurationHash(JSON.parse(vector.input) as JsonObject), vector.md5, vector.input);
    }
  });
});

describe('configuration hash', () => {
  const spec: JsonObject = { source: { table: 'orders', schema: 'dbo' }, lookBack: 3600, tags: [], batch: null };

  test('does not depend on key order', () => {
    const reordered: JsonObject = { batch: null, tags: [], lookBack: 3600, source: { schema: 'dbo', table: 'orders' } };
    assert.equal(configurationHash(reordered), configurationHash(spec));
  });

  test('changes with any value in the spec', () => {
    const variants: JsonObject[] = [
      { ...spec, lookBack: 3601 },
      { ...spec, source: { table: 'orders', schema: 'sales' } },
      { ...spec, tags: ['a'] },
      { ...spec, batch: {} },
      { source: spec.source ?? null, lookBack: 3600, tags: [] },
    ];
    const hashes = new Set([spec, ...variants].map(configurationHash));
    assert.equal(hashes.size, variants.length + 1);
  });

  test('keeps nulls, so a null backend is part of the hash', () => {
    assert.notEqual(configurationHash({ a: 1, batch: null }), configurationHash({ a: 1 }));
  });

  test('is the md5 of STREAMCONTEXT__SPEC', () => {
    assert.equal(specJson(spec), '{"batch":null,"lookBack":3600,"source":{"schema":"dbo","table":"orders"},"tags":[]}');
    assert.equal(configurationHash(spec), createHash('md5').update(specJson(spec), 'utf8').digest('hex'));
  });
});
