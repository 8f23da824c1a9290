Feature: A frozen agent cannot leave a primary taking writes
  PostgreSQL keeps running while its agent is frozen (SIGSTOP). The companion fencer, a separate
  process the agent feeds after every lease renewal, stops the primary from taking writes before
  the lease can expire, so a replica that takes over never shares the cluster with a writable
  old primary, and the woken agent rejoins as a replica.

  Scenario: The leader's agent frozen for 15 seconds: fenced in time, no interleaving, nothing lost
    Given a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And a prober writes directly to every node's PostgreSQL every 100 ms
    And I wait 2 seconds
    And I freeze the agent of postgres0 for 15 seconds
    Then another node than postgres0 holds the leader key within 12 seconds of the freeze
    And a new leader other than postgres0 accepts writes through haproxy within 10 seconds
    And postgres0 acknowledged its last write at least 1 second before its lease could end
    And the agent of postgres0 logged "fencer: no lease renewal from the agent"
    When the agent of postgres0 has been resumed
    Then postgres0 is a streaming replica of the new leader within 30 seconds
    And the new leader is still the leader
    When the writer and the probers stop
    Then no acknowledged writes of postgres0 and the new leader interleave
    And every row the writer got acknowledged is on the new leader
    And every row the probers got acknowledged is on the new leader

  Scenario: The same freeze in synchronous mode: only the synchronous standby takes over, nothing lost
    Given the bootstrap DCS setting synchronous_mode is true
    And a running cluster of 3 nodes
    And the sync key names one synchronous standby of postgres0 within 30 seconds
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And a prober writes directly to every node's PostgreSQL every 100 ms
    And I wait 2 seconds
    And I freeze the agent of postgres0 for 15 seconds
    Then the new leader is the leader within 14 seconds
    And postgres0 acknowledged its last write at least 1 second before its lease could end
    When the agent of postgres0 has been resumed
    Then postgres0 is a streaming replica of the new leader within 30 seconds
    When the writer and the probers stop
    Then no acknowledged writes of postgres0 and the new leader interleave
    And every row the writer got acknowledged is on the new leader
    And every row the probers got acknowledged is on the new leader

  Scenario: Freezing a replica's agent changes nothing for writers
    Given a running cluster of 2 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I freeze the agent of postgres1 for 15 seconds
    And the agent of postgres1 has been resumed
    And I wait 3 seconds
    Then postgres0 is still the leader
    And postgres1 is a streaming replica of postgres0 within 10 seconds
    When the writer and the probers stop
    Then the writer's longest gap stays under 1000 ms
    And every row the writer got acknowledged is on postgres0

  Scenario: A watchdog device is fed while leading and closed on a clean stop; a node that requires a missing one never leads
    Given postgres0 requires the watchdog device file
    And postgres1 requires a watchdog device that does not exist
    And a running cluster of 2 nodes
    Then the watchdog file of postgres0 receives keepalives
    And GET /patroni on postgres1 shows watchdog_failed within 5 seconds
    When I stop the agent of postgres0 with SIGTERM
    Then the watchdog file of postgres0 ends with a magic close within 10 seconds
    And postgres1 does not take the leader key during 15 seconds
    And the agent of postgres1 logged "watchdog.mode is required, but"
