import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { asideName, historyFileName, listDir, parseHistoryFile, writeAtomic } from '../../../src/postgres/files.js';

describe('timeline history files', () => {
  it('names the file after the timeline in eight upper-case hex digits', () => {
    assert.equal(historyFileName(2), '00000002.history');
    assert.equal(historyFileName(26), '0000001A.history');
  });

  it('reads rows of parent timeline, switch LSN and reason, skipping blanks and comments', () => {
    const text = '1\t0/3018058\tno recovery target specified\n\n# a comment\n2\t0/5000000\tbefore 2026-01-01 00:00:00+00\n';
    assert.deepEqual(parseHistoryFile(text), [
      [1, 0x3018058, 'no recovery target specified'],
      [2, 0x5000000, 'before 2026-01-01 00:00:00+00'],
    ]);
  });

  it('ignores lines that do not start with a timeline and an LSN', () => {
    assert.deepEqual(parseHistoryFile('garbage\n3\tnot-an-lsn\tx\n4\t1/0\n'), [[4, 0x1_0000_0000, '']]);
  });
});

describe('the name of a failed data directory', () => {
  it('appends .failed. and the ISO time without colons', () => {
    assert.equal(asideName('/var/lib/pg/data/', new Date('2026-11-22T21:13:32.123Z')), '/var/lib/pg/data.failed.2026-11-22T211332.123Z');
  });
});

describe('atomic writes', () => {
  it('replace the file whole with mode 0600 and leave no temp file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-files-'));
    try {
      const path = join(dir, 'pgwarden.conf');
      await writeAtomic(path, 'one\n');
      await writeAtomic(path, 'two\n');
      assert.equal(await readFile(path, 'utf8'), 'two\n');
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(await readdir(dir), ['pgwarden.conf']);
      assert.equal(await listDir(join(dir, 'missing')), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
