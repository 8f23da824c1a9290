Feature: etcd outage
  A primary that cannot renew its leader key must stop taking writes before the key can expire
  (ttl 10 s), so that no two primaries ever take writes; when etcd comes back the cluster elects
  one leader again.

  Scenario: A primary that loses etcd stops taking writes, and the cluster recovers after etcd returns
    Given a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When I suspend etcd
    Then postgres0 refuses writes within 10 seconds
    # etcd stays suspended longer than ttl (10 s)
    And no node accepts writes until 16 seconds after the fault
    When I resume etcd
    Then exactly one node is the leader within 30 seconds
    And a write of "after the outage" into table outage_check through haproxy succeeds within 20 seconds
    And every other running node is a streaming replica of the new leader within 60 seconds

  Scenario: In failsafe mode a primary every member confirms keeps taking writes through an etcd outage
    Given the bootstrap DCS setting failsafe_mode is true
    And every node writes a JSON state file
    And a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I wait 3 seconds
    And I suspend etcd
    And I wait 20 seconds
    Then GET /patroni on postgres0 shows failsafe_mode_is_active within 5 seconds
    # etcd has been unreachable for longer than ttl: the state files name the failsafe leader
    And pgwardenctl current-primary with the YAML of postgres1 prints postgres0 from the state file
    When I resume etcd
    And I wait 5 seconds
    Then postgres0 is still the leader
    When the writer stops
    Then the writer's longest gap stays under 1000 ms
    And every row the writer got acknowledged is on postgres0

  Scenario: In failsafe mode a primary demotes when one member does not confirm
    Given the bootstrap DCS setting failsafe_mode is true
    And a running cluster of 3 nodes
    When I kill -9 the agent of postgres2
    And I suspend etcd
    Then postgres0 refuses writes within 10 seconds

  Scenario: etcd restarted on its data under write load: one leader after it, no two primaries, nothing acknowledged lost in synchronous mode
    Given the bootstrap DCS setting synchronous_mode is true
    And a running cluster of 3 nodes
    And the sync key names one synchronous standby of postgres0 within 30 seconds
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And a prober writes directly to every node's PostgreSQL every 100 ms
    And I wait 2 seconds
    And I restart etcd
    And I wait 12 seconds
    Then exactly one node is the leader within 30 seconds
    And every other running node is a streaming replica of the new leader within 60 seconds
    When the writer and the probers stop
    Then no two nodes took writes at overlapping times
    And every row the writer got acknowledged is on the new leader
    And every row the probers got acknowledged is on the new leader
