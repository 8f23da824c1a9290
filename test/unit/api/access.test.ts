import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientAllowlist, normaliseAddress, urlHost, type ResolveHost } from '../../../src/api/allowlist.js';
import { basicAuthHeader } from '../../../src/api/auth.js';
import { buildServer } from '../../../src/api/server.js';
import type { NodeView } from '../../../src/domain/node-view.js';
import { cluster, fixedClock, leaderView, member } from './fixtures.js';

const CREDS = { username: 'admin', password: 's3cret' };

/** A resolver that knows a few names and records what it was asked. */
function fakeDns(names: Record<string, string[]>): { resolve: ResolveHost; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolve: async (host) => {
      asked.push(host);
      const a = names[host];
      if (a === undefined) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      return a;
    },
  };
}

async function allowlist(entries: string[], includeMembers = false, names: Record<string, string[]> = {}) {
  const warnings: string[] = [];
  const dns = fakeDns(names);
  const list = await ClientAllowlist.build(entries, includeMembers, (m) => warnings.push(m), dns.resolve);
  return { list: list!, warnings, asked: dns.asked };
}

describe('normaliseAddress', () => {
  it('unwraps IPv4-mapped IPv6, brackets and zone indexes, and refuses what is not an IP', () => {
    assert.deepEqual(normaliseAddress('::ffff:10.1.2.3'), { address: '10.1.2.3', family: 'ipv4' });
    assert.deepEqual(normaliseAddress('::FFFF:127.0.0.1'), { address: '127.0.0.1', family: 'ipv4' });
    assert.deepEqual(normaliseAddress('[fe80::1%eth0]'), { address: 'fe80::1', family: 'ipv6' });
    assert.deepEqual(normaliseAddress('2001:db8::7'), { address: '2001:db8::7', family: 'ipv6' });
    assert.equal(normaliseAddress('db1.example'), null);
    assert.equal(normaliseAddress('300.1.1.1'), null);
  });

  it('takes the host out of api_urls, IPv6 included', () => {
    assert.equal(urlHost('https://[::1]:8008/patroni'), '::1');
    assert.equal(urlHost('http://db2.example:8008/patroni'), 'db2.example');
    assert.equal(urlHost('not a url'), null);
  });
});

describe('ClientAllowlist', () => {
  it('is absent when neither allowlist nor allowlist_include_members is set', async () => {
    assert.equal(await ClientAllowlist.build(undefined, undefined, () => undefined), null);
    assert.equal(await ClientAllowlist.build([], false, () => undefined), null);
  });

  it('matches single addresses and CIDR networks of both families', async () => {
    const { list, warnings } = await allowlist(['127.0.0.1', '10.20.0.0/16', '2001:db8::/32', '::1']);
    assert.deepEqual(warnings, []);
    for (const ok of ['127.0.0.1', '::ffff:127.0.0.1', '10.20.255.1', '2001:db8:1::5', '::1']) assert.equal(list.allows(ok, []), true, ok);
    for (const no of ['127.0.0.2', '10.21.0.1', '2001:db9::1', '::2', undefined, 'garbage']) assert.equal(list.allows(no, []), false, String(no));
  });

  it('resolves host names once, when built, and leaves out what does not resolve or parse, with a warning', async () => {
    const { list, warnings, asked } = await allowlist(['proxy1.example', 'gone.example', '10.0.0.0/99', 'fe80::/200'], false, {
      'proxy1.example': ['192.0.2.10', '2001:db8::10'],
    });
    assert.deepEqual(asked, ['proxy1.example', 'gone.example']);
    assert.equal(list.allows('192.0.2.10', []), true);
    assert.equal(list.allows('2001:db8::10', []), true);
    assert.equal(list.allows('192.0.2.11', []), false);
    assert.deepEqual(warnings, [
      'restapi.allowlist: cannot resolve "gone.example" (getaddrinfo ENOTFOUND gone.example); left out until the next reload',
      'restapi.allowlist: "10.0.0.0/99" is not an IP address, a network or a host name; left out',
      'restapi.allowlist: "fe80::/200" is not an IP address, a network or a host name; left out',
    ]);
    list.allows('192.0.2.11', ['http://db9.example:8008/patroni']);
    assert.deepEqual(asked, ['proxy1.example', 'gone.example'], 'members are not consulted without allowlist_include_members');
  });

  it('with allowlist_include_members, admits the addresses of members\' api_url hosts', async () => {
    const { list, asked } = await allowlist([], true, { 'db2.example': ['192.0.2.22'] });
    const urls = ['http://127.0.0.7:8008/patroni', 'https://[2001:db8::3]:8008/patroni', 'http://db2.example:8008/patroni'];
    assert.equal(list.allows('127.0.0.7', urls), true);
    assert.equal(list.allows('2001:db8::3', urls), true);
    assert.equal(list.allows('127.0.0.8', urls), false);
    // A member host name is resolved in the background: refused until the answer is in, then admitted.
    assert.equal(list.allows('192.0.2.22', urls), false);
    await new Promise((r) => setImmediate(r));
    assert.equal(list.allows('192.0.2.22', urls), true);
    assert.deepEqual(asked, ['db2.example'], 'the answer is cached');
    assert.equal(list.allows('192.0.2.22', ['http://127.0.0.7:8008/patroni']), false, 'a member that left is no longer admitted');
  });
});

describe('access check on unsafe methods', () => {
  const view: NodeView = { ...leaderView(), cluster: cluster({ members: [member('n1', 5440), member('n2', 5441, { api_url: 'http://127.0.0.9:8009/patroni' })] }) };

  async function server(entries: string[], includeMembers = false) {
    const { list } = await allowlist(entries, includeMembers);
    let reloads = 0;
    const app = buildServer({ view: () => view, clock: fixedClock(), auth: CREDS, allowlist: () => list, requestReload: () => void reloads++ });
    return { app, reloads: () => reloads };
  }

  it('refuses an address outside the allowlist with 403 before asking for credentials', async () => {
    const { app, reloads } = await server(['10.0.0.0/8']);
    for (const authorization of [undefined, basicAuthHeader(CREDS)]) {
      const res = await app.inject({ method: 'POST', url: '/reload', remoteAddress: '192.0.2.1', headers: authorization ? { authorization } : {} });
      assert.equal(res.statusCode, 403);
      assert.equal(res.body, 'Access is denied');
    }
    const unrouted = await app.inject({ method: 'PROPFIND', url: '/x', remoteAddress: '192.0.2.1' });
    assert.equal(unrouted.statusCode, 403);
    assert.equal(reloads(), 0);
    await app.close();
  });

  it('lets an allowed address on to Basic auth, and leaves health checks open to everyone', async () => {
    const { app, reloads } = await server(['10.0.0.0/8']);
    const noCreds = await app.inject({ method: 'POST', url: '/reload', remoteAddress: '::ffff:10.9.8.7' });
    assert.equal(noCreds.statusCode, 401);
    const ok = await app.inject({ method: 'POST', url: '/reload', remoteAddress: '10.9.8.7', headers: { authorization: basicAuthHeader(CREDS) } });
    assert.equal(ok.statusCode, 202);
    assert.equal(reloads(), 1);
    const health = await app.inject({ method: 'GET', url: '/primary', remoteAddress: '192.0.2.1' });
    assert.equal(health.statusCode, 200);
    await app.close();
  });

  it('admits members from the published cluster view with allowlist_include_members', async () => {
    const { app } = await server([], true);
    const member = await app.inject({ method: 'POST', url: '/reload', remoteAddress: '127.0.0.9', headers: { authorization: basicAuthHeader(CREDS) } });
    assert.equal(member.statusCode, 202);
    const stranger = await app.inject({ method: 'POST', url: '/reload', remoteAddress: '127.0.0.10', headers: { authorization: basicAuthHeader(CREDS) } });
    assert.equal(stranger.statusCode, 403);
    await app.close();
  });
});
