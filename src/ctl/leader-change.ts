/**
 * `pgwardenctl switchover` / `failover`: asks what it was not told (on a terminal), checks the
 * names against the cluster, posts the request to the leader (or the candidate when there is no
 * leader) and, as patronictl does, writes it into etcd itself when no REST API answers.
 */
import { errorText } from '../errors.js';
import { eligibleCandidates, scheduledTime } from './actions.js';
import { CtlError, type CtlContext } from './context.js';
import { say, withProgress } from './output.js';
import { ask, confirm, interactive } from './prompt.js';

export async function leaderChange(ctx: CtlContext, action: 'switchover' | 'failover', o: { leader?: string; candidate?: string; scheduled?: string; force?: boolean }): Promise<void> {
  const cluster = await ctx.cluster();
  const current = cluster.leader?.name ?? null;
  let leader = o.leader;
  if (action === 'switchover') {
    if (current === null) throw new CtlError('the cluster has no leader: use failover --candidate');
    leader ??= interactive() && !o.force ? (await ask(`Primary [${current}]:`, '--leader')) || current : current;
    if (leader !== current) throw new CtlError(`Member ${leader} is not the leader of cluster ${ctx.scope} (the leader is ${current})`);
  }
  const eligible = eligibleCandidates(cluster, current);
  let candidate = o.candidate;
  if (candidate === undefined && (action === 'failover' || (interactive() && !o.force))) {
    candidate = (await ask(`Candidate ${JSON.stringify(eligible)} []:`, '--candidate')) || undefined;
  }
  if (action === 'failover' && candidate === undefined) throw new CtlError('failover needs a candidate (--candidate)');
  if (candidate !== undefined && !cluster.members.some((m) => m.name === candidate)) throw new CtlError(`${candidate} is not a member of cluster ${ctx.scope}`);
  if (candidate !== undefined && candidate === current) throw new CtlError(`${candidate} is already the leader`);
  const scheduledAt = action === 'switchover'
    ? scheduledTime(o.scheduled ?? (interactive() && !o.force ? await ask('When should the switchover take place (e.g. 2030-01-01T03:00) [now]:', '--scheduled') : undefined))
    : null;
  await confirm(
    action === 'switchover'
      ? `Are you sure you want to switchover cluster ${ctx.scope}, demoting current leader ${current ?? ''}${scheduledAt ? ` at ${scheduledAt}` : ''}?`
      : `Are you sure you want to failover cluster ${ctx.scope}${current ? `, demoting current leader ${current}` : ''}?`,
    o.force === true,
  );
  const body = { leader: action === 'switchover' ? leader ?? null : current, candidate: candidate ?? null, scheduled_at: scheduledAt };
  const target = cluster.members.find((m) => m.name === (current ?? candidate));
  try {
    if (!target) throw new CtlError('no member to send the request to');
    const r = await withProgress(`${action} in progress`, ctx.call(target, 'POST', `/${action}`, body, 90_000));
    if (r.status === 200 || r.status === 202) {
      say(`${new Date().toISOString()} ${r.text}`);
      return;
    }
    throw new CtlError(`${action} failed: ${r.status} ${r.text.trim()}`);
  } catch (e) {
    if (e instanceof CtlError && /failed: \d{3}/.test(e.message)) throw e;
    // As patronictl: when the REST API cannot be reached, put the request into etcd directly.
    process.stderr.write(`pgwardenctl: the REST API did not answer (${errorText(e)}); writing the request into etcd\n`);
    const req: Record<string, string> = {};
    if (body.leader) req['leader'] = body.leader;
    if (body.candidate) req['member'] = body.candidate;
    if (body.scheduled_at) req['scheduled_at'] = body.scheduled_at;
    await ctx.dcs.setFailover(req);
    say(`${title(action)} request written into etcd`);
  }
}

const title = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

