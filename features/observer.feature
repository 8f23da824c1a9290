Feature: Observer and current-primary
  `pgwarden observe` watches a cluster from outside, without a PostgreSQL of its own: it asks
  every member's PostgreSQL whether it is in recovery and where its WAL is, and every member's REST
  API for its status, and alerts (log, alert files, REST, metrics) when more than one server
  answers as primary. Here a replica is promoted by hand with pg_ctl while the cluster is paused,
  so that pgwarden itself does not demote it: only the observer can tell.

  `pgwardenctl current-primary` prints the leader's name and address from etcd, and from the
  node's JSON state file while etcd cannot be reached.

  Scenario: The observer flags a replica promoted by hand, and the end of it
    Given a running cluster of 3 nodes
    And an observer watches the cluster
    Then the observer sees postgres0 as the only primary within 15 seconds
    When I send PATCH /config to postgres0 with {"pause": true}
    Then every member key shows pause within 10 seconds
    When I promote the PostgreSQL of postgres1 by hand with pg_ctl
    # two rounds in a row (poll_interval 1 s) must see it
    Then the observer raises multiple_primary_warning within 15 seconds
    And the observer's REST API names postgres0 and postgres1 as primaries
    And the observer's metrics show 2 primaries and multiple_primary_warning
    When I stop the PostgreSQL of postgres1 by hand with pg_ctl
    Then the observer clears multiple_primary_warning within 15 seconds
    And the observer's log names both primaries at ERROR and has no unexpected error

  Scenario: The observer writes nothing to etcd, and SIGHUP re-reads its YAML (a broken one is refused)
    Given etcd is running
    And etcd holds a cluster batman whose members do not answer
    When I remember the etcd revision
    And an observer watches the cluster
    Then the observer has finished 3 rounds within 20 seconds
    And the etcd revision is unchanged and etcd holds no lease
    When I add scope robin to the observer's YAML and send it SIGHUP
    Then the observer lists the scopes batman and robin within 10 seconds
    When I break the observer's YAML and send it SIGHUP
    Then the observer's log says the reload was refused within 10 seconds
    And the observer lists the scopes batman and robin within 1 seconds
    And the etcd revision is unchanged and etcd holds no lease

  Scenario: pgwardenctl current-primary answers from etcd, and from the state file while etcd is down
    Given every node writes a JSON state file
    And a running cluster of 2 nodes
    Then pgwardenctl current-primary with the YAML of postgres1 prints postgres0 from etcd
    When I suspend etcd
    Then pgwardenctl current-primary with the YAML of postgres1 prints postgres0 from the state file
    When I resume etcd
    And I stop the agent of postgres1 with SIGTERM
    Then the agent of postgres1 exits with code 0 within 30 seconds
    When I suspend etcd
    And I delete the state file of postgres1
    Then pgwardenctl current-primary with the YAML of postgres1 fails, naming etcd and the state file
