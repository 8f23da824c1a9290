import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { describe, it } from 'node:test';
import { SyslogLogger, syslogMessage, teeLogger } from '../../src/log-syslog.js';
import { load, minimalWith, problemsOf } from './config/helpers.js';

describe('log.syslog', () => {
  it('frames a line as RFC 5424 with the facility and severity in PRI', () => {
    const at = new Date(Date.UTC(2026, 10, 23, 12, 0, 0));
    assert.equal(syslogMessage('local3', 'WARNING', 'alert x raised', at, 'db1', 42), '<156>1 2026-11-23T12:00:00.000Z db1 pgwarden 42 - - alert x raised');
    assert.equal(syslogMessage('daemon', 'DEBUG', 'm', at, '', 1).slice(0, 5), '<31>1');
  });

  it('sends every line at or above log.level to a UDP listener, next to the other logger', async () => {
    const server = createSocket('udp4');
    const got: string[] = [];
    server.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const syslog = new SyslogLogger({ host: '127.0.0.1', port: server.address().port, facility: 'daemon', level: 'INFO' });
    const kept: string[] = [];
    const log = teeLogger({ debug: (m) => kept.push(m), info: (m) => kept.push(m), warn: (m) => kept.push(m), error: (m) => kept.push(m), critical: (m) => kept.push(m) }, syslog);
    log.debug('not sent');
    log.info('node postgres0 started');
    log.error('could not write state file');
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    syslog.close();
    server.close();
    assert.deepEqual(got.map((g) => g.replace(/^(<\d+>1) \S+ \S+ pgwarden \d+ - - /, '$1 ')), ['<30>1 node postgres0 started', '<27>1 could not write state file']);
    assert.deepEqual(kept, ['not sent', 'node postgres0 started', 'could not write state file']);
  });

  it('is configured under log.syslog with defaults, and refuses an unknown facility', () => {
    const { config } = load(minimalWith({ log: 'log:\n  syslog: {port: 5514}' }));
    assert.deepEqual(config.log.syslog, { host: '127.0.0.1', port: 5514, facility: 'daemon' });
    assert.match(problemsOf(minimalWith({ log: 'log:\n  syslog: {facility: local9}' })).join('\n'), /log\.syslog\.facility/);
  });
});
