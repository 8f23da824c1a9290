Feature: Events, alerts and outside views
  Callbacks run after every PostgreSQL action with Patroni's arguments and a JSON document on
  stdin; the leader runs cluster triggers once per event; alert files, a JSON state file and
  statsd metrics show the cluster to tools that speak neither etcd nor the REST API.

  Scenario: A kill -9 failover runs each callback, trigger and alert once, and the state file stays valid JSON
    Given every node reports its events to recording scripts
    And a running cluster of 3 nodes
    And haproxy is running
    Then the callbacks of postgres0 record "on_start primary batman" within 10 seconds
    And the callbacks of postgres1 record "on_start replica batman" within 10 seconds
    And statsd received pgwarden.role from postgres0 within 10 seconds
    And statsd received pgwarden.replication_lag_bytes from postgres1 within 10 seconds
    And statsd received pgwarden.loop_duration from postgres2 within 10 seconds
    When I remember the trigger log
    And a reader polls the state files of every node every 15 ms
    And I kill -9 the agent and the postmaster of postgres0
    Then a new leader other than postgres0 accepts writes through haproxy within 20 seconds
    And the callbacks of the new leader record "on_role_change primary batman" within 10 seconds
    And the on_role_change callback of the new leader read a document naming the new leader as primary with leader the new leader
    And the triggers record "leader_down batman postgres0" once within 10 seconds
    And the triggers record "leader_up batman the new leader" once within 10 seconds
    And the triggers record "failover_happened batman the new leader" once within 10 seconds
    And the alert file failover_has_happened of postgres1 exists within 10 seconds
    And the alert file failover_has_happened of postgres2 exists within 10 seconds
    And the failover command ran once on the new leader and on no other node
    And the reader never saw invalid JSON and the state file of postgres1 names the new leader as leader within 10 seconds
    And the reader never saw invalid JSON and the state file of postgres2 names the new leader as leader within 10 seconds
    And statsd received a leader change to the new leader within 10 seconds

  Scenario: A switchover runs on_stop and on_role_change on the old leader and on_role_change on the new one
    Given every node reports its events to recording scripts
    And a running cluster of 2 nodes
    When I remember the trigger log
    And I send POST /switchover to postgres0 with {"leader": "postgres0", "candidate": "postgres1"}
    Then the answer is 200 "Successfully switched over to \"postgres1\""
    And the callbacks of postgres1 record "on_role_change primary batman" within 10 seconds
    And the on_role_change callback of postgres1 read a document naming postgres1 as primary with leader postgres1
    And the callbacks of postgres0 record, in order, "on_start primary batman, on_stop primary batman, on_role_change replica batman" within 30 seconds
    And the on_role_change callback of postgres0 read a document naming postgres0 as replica with leader postgres1
    And the triggers record "leader_up batman postgres1" once within 10 seconds
    And the triggers record "failover_happened batman postgres1" once within 10 seconds
    And the failover command ran once on postgres1 and on no other node

  Scenario: A replica whose delay moves back and forth across the down limit is reported down once, and up once when it recovers
    Given every node reports its events to recording scripts
    And the leader measures replica delay with the heartbeat table, replicas count as down above 4 s and up again below 2 s, and the warning limit is 1 s
    And a running cluster of 2 nodes
    Then the alert file replication_delay_warning of postgres0 does not exist
    When I remember the trigger log
    # The leader writes a beat every 2 s (loop_wait) and reads the replica's newest beat right
    # after; it counts age - 3 s (loop_wait + 1 s) as certain delay. A beat replayed 7 s late is
    # 8 s old when read (delay 5 s), one replayed 5 s late is 6 s old (delay 3 s): the delay
    # moves between 5 and 3 s, across the down limit and never under the up limit.
    And I delay WAL replay on postgres1 by 7 seconds
    Then the triggers record "replica_down batman postgres1" once within 20 seconds
    And the alert file replication_delay_warning of postgres0 exists within 5 seconds
    And the alert file replication_delay_warning of postgres1 exists within 5 seconds
    When I delay WAL replay on postgres1 by 5 seconds
    Then the triggers record "replica_up batman postgres1" not at all during 8 seconds
    When I delay WAL replay on postgres1 by 7 seconds
    Then the triggers record "replica_up batman postgres1" not at all during 8 seconds
    When I delay WAL replay on postgres1 by 5 seconds
    Then the triggers record "replica_up batman postgres1" not at all during 8 seconds
    When I stop delaying WAL replay on postgres1
    Then the triggers record "replica_up batman postgres1" once within 15 seconds
    And during 6 seconds the triggers record "replica_down batman postgres1" and "replica_up batman postgres1" exactly once each
    And the alert file replication_delay_warning of postgres0 is gone within 10 seconds
    And the alert file replication_delay_warning of postgres1 is gone within 10 seconds
    And the over command ran 1 time on postgres0
    And the over command ran 1 time on postgres1

  Scenario: A replica whose maintenance_mode_file exists is no failover candidate until the file is removed
    Given postgres1 has a maintenance_mode_file
    And a running cluster of 2 nodes
    When I create the maintenance file of postgres1
    Then the member key of postgres1 shows the tag nofailover within 10 seconds
    When I kill -9 the agent and the postmaster of postgres0
    # ttl (10 s) + 10 s
    Then postgres1 does not take the leader key during 20 seconds
    And the agent of postgres1 logged "maintenance_mode_file"
    When I remove the maintenance file of postgres1
    Then postgres1 is the leader within 15 seconds
