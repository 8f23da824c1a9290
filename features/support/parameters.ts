import { defineParameterType } from '@cucumber/cucumber';

/**
 * `{node}`: a member name (postgres0..postgres4) or "the new leader" (the node a failover step
 * saw take over; resolved by PgWorld.resolveName inside the step).
 */
defineParameterType({
  name: 'node',
  regexp: /postgres\d|the new leader/,
  transformer: (s: string) => s,
});
