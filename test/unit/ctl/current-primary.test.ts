import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Config } from '../../../src/config/schema.js';
import { CtlError, type CtlContext } from '../../../src/ctl/context.js';
import { answerLine, currentPrimary, primaryFromCluster } from '../../../src/ctl/current-primary.js';
import type { ClusterSnapshot } from '../../../src/domain/cluster.js';
import { buildStateDocument, StateFileWriter } from '../../../src/outside/state-file.js';
import { cluster, member, replicaView, WALL } from '../api/fixtures.js';
import { recordingLogger, tempDir } from '../outside/helpers.js';

const dir = tempDir('current-primary');
after(() => rmSync(dir, { recursive: true, force: true }));

const ETCD_DOWN = 'cannot read cluster "batman" from etcd (http://127.0.0.1:2379): etcd did not answer';

/**
 * The part of a ctl context `currentPrimary` uses: the file, its config and one etcd read. The
 * rest (REST client, etcd writes) is not needed, hence the cast.
 */
function context(read: () => Promise<ClusterSnapshot>, statePath?: string): CtlContext {
  const config = (statePath === undefined ? {} : { json_state_file_path: statePath }) as Partial<Config>;
  return { file: 'postgres1.yml', scope: 'batman', config, cluster: read } as unknown as CtlContext;
}

/** A state file as a replica n2 writes it, after seeing n1 lead at its last etcd read. */
async function stateFile(name: string, over: Partial<Parameters<typeof replicaView>[0]> = {}): Promise<string> {
  const path = join(dir, name);
  assert.equal(await new StateFileWriter(path, recordingLogger()).write(buildStateDocument(replicaView(over), { nowMs: WALL })), 'written');
  return path;
}

describe('pgwardenctl current-primary', () => {
  it('answers from etcd: the leader key holder and the address of its member key', async () => {
    const { answer, notice } = await currentPrimary(context(async () => cluster()));
    assert.equal(notice, null);
    assert.deepEqual(answer, { name: 'n1', host: '127.0.0.1', port: 5440, conn_url: 'postgres://127.0.0.1:5440/postgres', source: 'etcd' });
    assert.equal(answerLine(answer), 'n1 127.0.0.1:5440 postgres://127.0.0.1:5440/postgres');
  });

  it('brackets an IPv6 host in the one-line answer', () => {
    const c = cluster({ members: [member('n1', 5440, { conn_url: 'postgres://[::1]:5440/postgres' })] });
    assert.equal(answerLine(primaryFromCluster(c, 'batman')), 'n1 [::1]:5440 postgres://[::1]:5440/postgres');
  });

  it('fails when etcd answers that nobody holds the leader key, without looking at the state file', async () => {
    const path = await stateFile('unused.json');
    await assert.rejects(currentPrimary(context(async () => cluster({ leader: null }), path)), (e: unknown) => e instanceof CtlError && /cluster batman has no leader in etcd right now/.test(e.message));
  });

  it('fails when the leader\'s member key is gone (its address is unknown)', () => {
    assert.throws(() => primaryFromCluster(cluster({ members: [member('n2', 5441)] }), 'batman'), /names n1, but etcd has no members\/n1 key/);
  });

  it('answers from the state file when etcd cannot be reached, and says how old that answer is', async () => {
    const path = await stateFile('state.json');
    const { answer, notice } = await currentPrimary(context(() => Promise.reject(new CtlError(ETCD_DOWN)), path));
    assert.deepEqual(answer, {
      name: 'n1', host: '127.0.0.1', port: 5440, conn_url: 'postgres://127.0.0.1:5440/postgres', source: 'state_file',
      state_file: path, written_at: '2026-11-22T12:00:00.000Z', written_by: 'n2', etcd_last_read_at: new Date(1_795_348_268_000).toISOString(),
    });
    assert.equal(
      notice,
      `etcd did not answer (${ETCD_DOWN});\n  this answer comes from the state file ${path} written at 2026-11-22T12:00:00.000Z by n2, ` +
        `whose last etcd read was at ${new Date(1_795_348_268_000).toISOString()}: it may be out of date`,
    );
  });

  it('fails naming both sources when the state file cannot help either', async () => {
    const down = () => Promise.reject(new CtlError(ETCD_DOWN));
    const check = async (ctx: CtlContext, pattern: RegExp) =>
      assert.rejects(currentPrimary(ctx), (e: unknown) => e instanceof CtlError && e.message.startsWith(ETCD_DOWN) && pattern.test(e.message));
    await check(context(down), /; postgres1\.yml sets no json_state_file_path to fall back on$/);
    await check(context(down, join(dir, 'missing.json')), /the fallback failed: cannot read state file .*missing\.json/);
    await check(context(down, await stateFile('no-leader.json', { cluster: null, dcsLastSeenEpoch: 0 })), /names no leader: none held the key at its writer's last etcd read \(never\), or that read was more than ttl old/);
    await check(context(down, await stateFile('robin.json', { scope: 'robin' })), /is about cluster robin, not batman/);
  });
});
