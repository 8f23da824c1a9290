/**
 * The REST API over real HTTPS with certificates made by `openssl` for this run: server
 * certificate checks, `verify_client` optional and required, encrypted keys, peers over HTTPS,
 * and the configuration errors that name the key and the file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { HttpClient, type ClientTls } from '../../../src/api/http-client.js';
import { HttpPeerApi } from '../../../src/api/peer-client.js';
import { buildServer } from '../../../src/api/server.js';
import { clientTls, serverTls, type ServerTls } from '../../../src/api/tls.js';
import type { Config } from '../../../src/config/schema.js';
import { ENCRYPTED_KEY_PASSWORD, makeTestCertificates } from '../../support/certs.js';
import { fixedClock, leaderView } from './fixtures.js';

const CREDS = { username: 'admin', password: 's3cret' };
const dir = mkdtempSync(join(tmpdir(), 'pgwarden-tls-'));
const certs = makeTestCertificates(dir);
const pem = (path: string) => certs.read(path);
after(() => rmSync(dir, { recursive: true, force: true }));

type RestApi = Config['restapi'];
const restapi = (over: Partial<RestApi> = {}): RestApi => ({ listen: '127.0.0.1:0', connect_address: '127.0.0.1:8008', ...over });

async function serve(tls: ServerTls | null): Promise<{ app: FastifyInstance; url: string; reloads: () => number }> {
  let reloads = 0;
  const app = buildServer({ view: () => leaderView(), clock: fixedClock(), auth: CREDS, tls, requestReload: () => void reloads++ });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: address.replace(/^http:/, tls ? 'https:' : 'http:'), reloads: () => reloads };
}

const trusting = (extra: ClientTls = {}) => new HttpClient({ auth: CREDS, tls: { ca: pem(certs.caCert), ...extra } });
const asClient = { cert: () => pem(certs.clientCert), key: () => pem(certs.clientKey) };

describe('REST API over HTTPS', () => {
  it('serves health checks to clients that trust its CA, and refuses clients that do not', async () => {
    const { app, url } = await serve(serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey })));
    try {
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await trusting().request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 });
      assert.equal(res.status, 200);
      await assert.rejects(new HttpClient().request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 }), /certificate/);
      const insecure = await new HttpClient({ tls: { verify: false } }).request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 });
      assert.equal(insecure.status, 200);
    } finally {
      await app.close();
    }
  });

  it('lets a peer read /patroni over HTTPS, and counts a peer it cannot verify as unreachable', async () => {
    const { app, url } = await serve(serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey })));
    try {
      const seen = await new HttpPeerApi(CREDS, { ca: pem(certs.caCert) }).fetchStatus('n1', `${url}/patroni`, 5000);
      assert.equal(seen.reachable, true);
      assert.equal(seen.isPrimary, true);
      const blind = await new HttpPeerApi(CREDS).fetchStatus('n1', `${url}/patroni`, 5000);
      assert.equal(blind.reachable, false);
    } finally {
      await app.close();
    }
  });

  it('reads a key protected by keyfile_password', async () => {
    const { app, url } = await serve(serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKeyEncrypted, keyfile_password: ENCRYPTED_KEY_PASSWORD })));
    try {
      assert.equal((await trusting().request({ method: 'GET', url: `${url}/health`, timeoutMs: 5000 })).status, 200);
    } finally {
      await app.close();
    }
  });

  it('verify_client optional: reads are open, unsafe methods need a certificate signed by cafile', async () => {
    const { app, url, reloads } = await serve(
      serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey, cafile: certs.caCert, verify_client: 'optional' })),
    );
    try {
      assert.equal((await trusting().request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 })).status, 200);
      const noCert = await trusting().request({ method: 'POST', url: `${url}/reload`, timeoutMs: 5000 });
      assert.deepEqual([noCert.status, noCert.text], [403, 'client certificate required']);
      const rogue = await trusting({ cert: pem(certs.rogueCert), key: pem(certs.rogueKey) }).request({ method: 'POST', url: `${url}/reload`, timeoutMs: 5000 });
      assert.deepEqual([rogue.status, rogue.text], [403, 'client certificate required']);
      assert.equal(reloads(), 0);
      const signedNoAuth = await new HttpClient({ tls: { ca: pem(certs.caCert), cert: asClient.cert(), key: asClient.key() } }).request({
        method: 'POST', url: `${url}/reload`, timeoutMs: 5000,
      });
      assert.equal(signedNoAuth.status, 401, 'a certificate does not replace the password');
      const signed = await trusting({ cert: asClient.cert(), key: asClient.key() }).request({ method: 'POST', url: `${url}/reload`, timeoutMs: 5000 });
      assert.equal(signed.status, 202);
      assert.equal(reloads(), 1);
    } finally {
      await app.close();
    }
  });

  it('verify_client required: no certificate, no connection at all', async () => {
    const { app, url } = await serve(
      serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey, cafile: certs.caCert, verify_client: 'required' })),
    );
    try {
      await assert.rejects(trusting().request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 }), /PEER_UNREACHABLE|certificate|socket|alert/i);
      const res = await trusting({ cert: asClient.cert(), key: asClient.key() }).request({ method: 'GET', url: `${url}/primary`, timeoutMs: 5000 });
      assert.equal(res.status, 200);
    } finally {
      await app.close();
    }
  });

  it('an agent calls its peers with its own certificate when ctl has none (restapi fallback)', () => {
    const config = { restapi: restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey, cafile: certs.caCert }) } as Config;
    const tls = clientTls(config);
    assert.equal(tls.ca, pem(certs.caCert));
    assert.equal(tls.cert, pem(certs.nodeCert));
    assert.equal(tls.key, pem(certs.nodeKey));
    assert.equal(tls.verify, true);
    const ctl = clientTls({ ...config, ctl: { cacert: certs.caCert, certfile: certs.clientCert, keyfile: certs.clientKey, insecure: true } } as Config);
    assert.equal(ctl.cert, pem(certs.clientCert));
    assert.equal(ctl.verify, false);
  });
});

describe('TLS configuration errors', () => {
  it('name the key and the file that cannot be read', () => {
    assert.throws(() => serverTls(restapi({ certfile: join(dir, 'missing.crt') })), /restapi\.certfile .*missing\.crt: ENOENT/);
    assert.throws(() => serverTls(restapi({ certfile: certs.nodeCert, keyfile: join(dir, 'nope.key') })), /restapi\.keyfile .*nope\.key: ENOENT/);
    assert.throws(() => clientTls({ restapi: restapi(), ctl: { cacert: join(dir, 'nope.crt') } } as Config), /ctl\.cacert .*nope\.crt/);
  });

  it('refuse verify_client without cafile, and TLS keys without certfile', () => {
    assert.throws(() => serverTls(restapi({ certfile: certs.nodeCert, verify_client: 'required' })), /restapi\.verify_client is required but restapi\.cafile is not set/);
    assert.throws(() => serverTls(restapi({ keyfile: certs.nodeKey })), /restapi\.keyfile is set but restapi\.certfile is not/);
    assert.equal(serverTls(restapi({ verify_client: 'none' })), null);
  });

  it('a wrong keyfile_password, a key of another certificate or bad ciphers fail when the settings are read', () => {
    const at = (over: Partial<RestApi>) => () => serverTls(restapi({ certfile: certs.nodeCert, keyfile: certs.nodeKey, ...over }));
    assert.throws(at({ keyfile: certs.nodeKeyEncrypted, keyfile_password: 'wrong' }), /restapi TLS settings \(.*node-encrypted\.key\): .*decrypt/i);
    assert.throws(at({ keyfile: certs.clientKey }), /restapi TLS settings \(.*client\.key\): .*key values mismatch/i);
    assert.throws(at({ ciphers: 'NO-SUCH-CIPHER' }), /ciphers NO-SUCH-CIPHER\): .*cipher/i);
  });
});
