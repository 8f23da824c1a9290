import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MaintenanceMode } from '../../../src/outside/maintenance.js';
import { recordingLogger, tempDir, visible } from './helpers.js';

describe('MaintenanceMode', () => {
  it('is on exactly while the file exists and logs each change once', () => {
    const path = join(tempDir('maintenance'), 'maintenance');
    const log = recordingLogger();
    const m = new MaintenanceMode(() => path, log);
    assert.equal(m.check(), false);
    writeFileSync(path, '');
    assert.equal(m.check(), true);
    assert.equal(m.check(), true);
    rmSync(path);
    assert.equal(m.check(), false);
    assert.deepEqual(visible(log.lines).map((l) => l.split(':')[0]), ['WARNING maintenance_mode_file ' + path + ' exists', 'INFO maintenance mode ended (' + path + ' is gone)']);
  });

  it('is off without maintenance_mode_file', () => {
    assert.equal(new MaintenanceMode(() => undefined, recordingLogger()).check(), false);
  });
});
