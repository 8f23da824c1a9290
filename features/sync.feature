Feature: Synchronous replication
  In synchronous mode the leader publishes in the sync key only standbys PostgreSQL confirms as
  synchronous, and only those may be promoted automatically, so a failover loses no acknowledged
  write. In strict mode a primary without a synchronous standby makes commits wait.

  Scenario: Only the synchronous standby takes over, and no acknowledged write is lost
    Given the bootstrap DCS setting synchronous_mode is true
    And a running cluster of 3 nodes
    Then the sync key names one synchronous standby of postgres0 within 30 seconds
    And /sync and /async tell the synchronous standby from the other replicas
    Given haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I wait 2 seconds
    And I kill -9 the agent and the postmaster of postgres0
    Then the new leader is the leader within 20 seconds
    And the writer's rows land on the new leader within 15 seconds
    When the writer stops
    Then every row the writer got acknowledged is on the new leader

  Scenario: Strict mode: without a synchronous standby, commits wait until one is back
    Given the bootstrap DCS setting synchronous_mode is true
    And the bootstrap DCS setting synchronous_mode_strict is true
    And a running cluster of 2 nodes
    Then the sync key names one synchronous standby of postgres0 within 30 seconds
    When I kill -9 the agent and the postmaster of postgres1
    And I start a write on postgres0 that needs a synchronous standby
    Then the write is still waiting after 6 seconds
    And postgres0 is still the leader
    When I start postgres1
    Then the write completes within 40 seconds
