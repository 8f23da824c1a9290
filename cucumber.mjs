// cucumber-js configuration of pgwarden's acceptance features (real etcd, PostgreSQL 15,
// pgwarden agents and haproxy).
//   run all:       npx cucumber-js          (as a non-root user, after `npm run build`)
//   one scenario:  npx cucumber-js --name "nofailover"
// Step definitions are TypeScript: tsx is registered below, in cucumber's own process (the
// `loader` option cannot host tsx, which insists on its own registration API).
// Outputs: /tmp/pgwarden-features/<run>/<scenario>/ (agent, etcd, haproxy and PostgreSQL logs),
// deleted for passing scenarios, kept and printed for failed ones.
import { register } from 'tsx/esm/api';

register();

export default {
  import: ['features/support/**/*.ts', 'features/steps/**/*.ts'],
  format: ['pretty'],
  formatOptions: { snippetInterface: 'async-await' },
  strict: true,
  failFast: false,
};
