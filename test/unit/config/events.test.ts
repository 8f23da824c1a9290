import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { load, minimalWith, postgresqlWith, problemsOf } from './helpers.js';

describe('events and outside views in the node YAML', () => {
  it('accepts callbacks, triggers and the outside-view keys, with their defaults', () => {
    const { config, warnings } = load(
      minimalWith({
        postgresql: postgresqlWith('  callbacks: {on_role_change: /usr/local/bin/cb.sh, on_start: "/bin/logger -t pg"}'),
        triggers: 'triggers: {replica_down: /t.sh, replica_down_lag_bytes: 1000, replica_up_lag_bytes: 100}',
        alert_file_dir: 'alert_file_dir: /var/lib/pgwarden/alerts',
        statsd: 'statsd: {port: 8125}',
        maintenance_mode_file: 'maintenance_mode_file: /etc/pgwarden/maintenance',
      }),
    );
    assert.deepEqual(warnings, []);
    assert.equal(config.postgresql.callbacks?.on_start, '/bin/logger -t pg');
    assert.equal(config.postgresql.callback_timeout, 30);
    assert.equal(config.triggers?.replica_up_lag_bytes, 100);
    assert.deepEqual(config.statsd, { host: '127.0.0.1', port: 8125, tags: {} });
    assert.deepEqual(config.heartbeat_table, { enabled: false, name: 'pgwarden.heartbeat' });
  });

  it('names the key of every command that cannot be split and of inverted lag limits', () => {
    const problems = problemsOf(
      minimalWith({
        postgresql: postgresqlWith("  callbacks: {on_stop: \"/bin/cb 'unclosed\"}\n  callback_timeout: 0"),
        triggers: 'triggers: {leader_up: "\\"x", replica_down_lag_seconds: 5, replica_up_lag_seconds: 5}',
        failover_command: "failover_command: \"page 'me\"",
      }),
    );
    assert.deepEqual(problems, [
      "failover_command: command \"page 'me\": unterminated single quote",
      'postgresql.callback_timeout: must be >= 1',
      "postgresql.callbacks.on_stop: command \"/bin/cb 'unclosed\": unterminated single quote",
      'triggers.leader_up: command "\\"x": unterminated double quote',
      'triggers.replica_up_lag_seconds: must be below triggers.replica_down_lag_seconds (5 >= 5)',
    ]);
  });

  it('refuses an unknown callback action (misspelt keys are errors)', () => {
    assert.match(problemsOf(minimalWith({ postgresql: postgresqlWith('  callbacks: {on_promote: /x}') })).join('\n'), /postgresql\.callbacks.*on_promote/);
  });
});
