import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHostPort, parseEtcdHost, parseHostPort, parseListen } from '../../../src/config/hostport.js';
import { parseHostPort as fromLoad } from '../../../src/config/load.js';
import { editDistance, suggest } from '../../../src/config/suggest.js';

describe('parseHostPort', () => {
  it('splits a name or IPv4 address and a port', () => {
    assert.deepEqual(parseHostPort('127.0.0.1:5432'), { host: '127.0.0.1', port: 5432 });
    assert.deepEqual(parseHostPort(' db-1.example.com:8008 '), { host: 'db-1.example.com', port: 8008 });
  });

  it('accepts IPv6 bracketed and, like Patroni, split at the last colon', () => {
    assert.deepEqual(parseHostPort('[::1]:5432'), { host: '::1', port: 5432 });
    assert.deepEqual(parseHostPort('::1:5432'), { host: '::1', port: 5432 });
  });

  it('rejects a missing or out-of-range port and an empty host', () => {
    for (const bad of ['127.0.0.1', '127.0.0.1:', ':5432', 'host:0', 'host:65536', 'host:54x', 'a b:1', 'a,b:1', '[::1:5432']) {
      assert.throws(() => parseHostPort(bad), /is not host:port/, bad);
    }
  });

  it('is the same function the loader exports', () => {
    assert.equal(fromLoad, parseHostPort);
  });
});

describe('parseListen and parseEtcdHost', () => {
  it('splits a postgresql.listen list of hosts and its port', () => {
    assert.deepEqual(parseListen('127.0.0.1,::1:5432'), { hosts: ['127.0.0.1', '::1'], port: 5432 });
    assert.deepEqual(parseListen('*:5433'), { hosts: ['*'], port: 5433 });
    assert.throws(() => parseListen('127.0.0.1,:5432'), /host\[,host\.\.\.\]:port/);
  });

  it('defaults an etcd host without a port to 2379', () => {
    assert.deepEqual(parseEtcdHost('etcd1'), { host: 'etcd1', port: 2379 });
    assert.deepEqual(parseEtcdHost('[fd00::1]'), { host: 'fd00::1', port: 2379 });
    assert.deepEqual(parseEtcdHost('etcd1:2381'), { host: 'etcd1', port: 2381 });
  });

  it('brackets IPv6 hosts when formatting for a URL', () => {
    assert.equal(formatHostPort({ host: 'fd00::1', port: 2379 }), '[fd00::1]:2379');
    assert.equal(formatHostPort({ host: 'etcd1', port: 2379 }), 'etcd1:2379');
  });
});

describe('suggest', () => {
  it('proposes the closest key for a plausible typo only', () => {
    assert.equal(suggest('lisen', ['listen', 'connect_address']), 'listen');
    assert.equal(suggest('data_dri', ['data_dir', 'bin_dir']), 'data_dir');
    assert.equal(suggest('frobnicate', ['listen', 'connect_address']), undefined);
    assert.equal(editDistance('ab', 'ba'), 1, 'a swap of neighbours is one edit');
  });
});
