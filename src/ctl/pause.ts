/**
 * `pgwardenctl pause` / `resume`: one member (the leader first) stores the change through
 * `PATCH /config`; with `--wait`, until every member key shows it (at most 120 s).
 */
import { errorText } from '../errors.js';
import { leaderFirst } from './actions.js';
import { CtlError, type CtlContext } from './context.js';
import { progress, say, sleep } from './output.js';

export async function setPause(ctx: CtlContext, pause: boolean, wait: boolean): Promise<void> {
  const cluster = await ctx.cluster();
  const paused = cluster.config?.['pause'] === true;
  if (paused === pause) throw new CtlError(pause ? 'Cluster is already paused' : 'Cluster is not paused');
  let done = false;
  const failures: string[] = [];
  for (const m of leaderFirst(cluster)) {
    try {
      const r = await ctx.call(m, 'PATCH', '/config', { pause: pause ? true : null });
      if (r.status === 200) {
        done = true;
        break;
      }
      failures.push(`${m.name}: ${r.status} ${r.text.trim()}`);
    } catch (e) {
      failures.push(`${m.name}: ${errorText(e)}`);
    }
  }
  if (!done) throw new CtlError(`no member accepted the change: ${failures.join('; ')}`);
  if (wait) {
    progress(`waiting for every member to ${pause ? 'pause' : 'resume'}`);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const c = await ctx.cluster();
      if (c.members.every((m) => (m.data.pause === true) === pause)) break;
      if (Date.now() > deadline) throw new CtlError(`not every member shows the change after 120 s`);
      progress('.');
      await sleep(1000);
    }
    progress('\n');
  }
  say(pause ? 'Success: cluster management is paused' : 'Success: cluster management is resumed');
}
