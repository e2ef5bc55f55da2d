// resourceVersions: ordered as the decimals an etcd-backed API server writes, and nothing assumed of anything else.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { atLeast, compareVersions, covers, newest, versionKey } from '../../../workflows/lifecycle/versions.ts';

describe('comparing two versions', () => {
  test('equal versions compare as equal', () => {
    assert.equal(compareVersions('12345', '12345'), 0);
  });

  test('versions of one length compare by their digits', () => {
    assert.ok((compareVersions('120', '121') ?? 0) < 0);
    assert.ok((compareVersions('900', '899') ?? 0) > 0);
  });

  test('a longer version is the newer one, whatever its digits (9 < 10, unlike as strings)', () => {
    assert.ok((compareVersions('9', '10') ?? 0) < 0);
    assert.ok((compareVersions('100000', '99999') ?? 0) > 0);
  });

  test('versions past the range of a double still compare exactly', () => {
    assert.ok((compareVersions('90071992547409930', '90071992547409931') ?? 0) < 0);
  });

  test('anything but a plain positive decimal cannot be compared', () => {
    for (const odd of ['', '0', '012', 'abc', '12a', '-5', '1.5', ' 12', '1e5', '1'.repeat(40)]) {
      assert.equal(compareVersions(odd, '12'), undefined, `${JSON.stringify(odd)} first`);
      assert.equal(compareVersions('12', odd), undefined, `${JSON.stringify(odd)} second`);
    }
  });
});

describe('at least a version', () => {
  test('the same or a newer version is at least it; an older one is not', () => {
    assert.equal(atLeast('15', '15'), true);
    assert.equal(atLeast('16', '15'), true);
    assert.equal(atLeast('100', '99'), true);
    assert.equal(atLeast('14', '15'), false);
  });

  test('no version, or one that cannot be compared, is not at least anything', () => {
    assert.equal(atLeast(undefined, '15'), false);
    assert.equal(atLeast('opaque', 'opaque'), false);
    assert.equal(atLeast('15', 'opaque'), false);
  });
});

describe('covering what a notice saw', () => {
  const seen = { [versionKey.stream]: '20', [versionKey.job]: '31', [versionKey.template('data', 'mock')]: '7' };

  test('what was seen covers every object it holds at that version or older', () => {
    assert.equal(covers(seen, { [versionKey.stream]: '20' }), true);
    assert.equal(covers(seen, { [versionKey.stream]: '19', [versionKey.job]: '31' }), true);
  });

  test('an object seen older, or not seen at all, is not covered', () => {
    assert.equal(covers(seen, { [versionKey.job]: '32' }), false);
    assert.equal(covers(seen, { [versionKey.stream]: '20', [versionKey.cronJob]: '5' }), false);
    assert.equal(covers(undefined, { [versionKey.stream]: '1' }), false);
  });

  test('a version that cannot be compared is never covered', () => {
    assert.equal(covers({ [versionKey.stream]: 'opaque' }, { [versionKey.stream]: 'opaque' }), false);
  });

  test('nothing required is covered by anything', () => {
    assert.equal(covers(undefined, undefined), true);
    assert.equal(covers(undefined, {}), true);
    assert.equal(covers(seen, undefined), true);
  });
});

describe('the newest of two', () => {
  test('each object keeps its newer version, and objects of either side are kept', () => {
    const older = { [versionKey.stream]: '20', [versionKey.job]: '31' };
    const newer = { [versionKey.stream]: '19', [versionKey.job]: '100', [versionKey.backfillRequest('again')]: '4' };
    assert.deepEqual(newest(older, newer), {
      [versionKey.stream]: '20',
      [versionKey.job]: '100',
      [versionKey.backfillRequest('again')]: '4',
    });
  });

  test('of two versions that cannot be compared, the later argument wins', () => {
    assert.deepEqual(newest({ [versionKey.stream]: 'a' }, { [versionKey.stream]: 'b' }), { [versionKey.stream]: 'b' });
    assert.deepEqual(newest({ [versionKey.stream]: '20' }, { [versionKey.stream]: 'b' }), { [versionKey.stream]: 'b' });
  });

  test('either side missing leaves the other as it is; its inputs are not changed', () => {
    const one = { [versionKey.stream]: '20' };
    assert.deepEqual(newest(undefined, one), one);
    assert.deepEqual(newest(one, undefined), one);
    assert.deepEqual(newest(undefined, undefined), {});
    newest(one, { [versionKey.stream]: '21' });
    assert.deepEqual(one, { [versionKey.stream]: '20' });
  });
});
