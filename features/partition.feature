@netns
Feature: Network partitions
  etcd and every node run on a host of their own on a test network (network namespaces the test
  run creates; see features/support/netns.ts), so a step can cut the cable between two of them.
  haproxy, the writer and the probers stay connected to every host, so they see any primary that
  still takes writes. ttl 10 s, loop_wait 2 s, retry_timeout 3 s.

  Scenario: The leader cut off from etcd stops taking writes before its lease can end; the synchronous standby takes over and nothing acknowledged is lost
    Given the cluster runs on a test network
    And the bootstrap DCS setting synchronous_mode is true
    And a running cluster of 3 nodes
    And the sync key names one synchronous standby of postgres0 within 30 seconds
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And a prober writes directly to every node's PostgreSQL every 100 ms
    And I wait 2 seconds
    And I cut postgres0 off from etcd
    Then postgres0 refuses writes within 10 seconds
    And the new leader is the leader within 20 seconds
    And postgres0 acknowledged its last write at least 1 second before its lease could end
    When I heal the network
    Then postgres0 is a streaming replica of the new leader within 60 seconds
    When the writer and the probers stop
    Then no two nodes took writes at overlapping times
    And every row the writer got acknowledged is on the new leader
    And every row the probers got acknowledged is on the new leader

  Scenario: The leader isolated from etcd and the replicas: fenced in time, one replica takes over, the old leader rejoins
    Given the cluster runs on a test network
    And a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And a prober writes directly to every node's PostgreSQL every 100 ms
    And I wait 2 seconds
    And I isolate postgres0 from etcd and the other nodes
    Then postgres0 refuses writes within 10 seconds
    And a new leader other than postgres0 accepts writes through haproxy within 25 seconds
    And postgres0 acknowledged its last write at least 1 second before its lease could end
    When I heal the network
    Then postgres0 is a streaming replica of the new leader within 60 seconds
    When the writer and the probers stop
    Then no two nodes took writes at overlapping times

  Scenario: The leader cut off from the replicas keeps leading, and they catch up once the cut heals
    Given the cluster runs on a test network
    And a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I wait 2 seconds
    And I cut postgres0 off from the other nodes
    # longer than ttl: the leader keeps renewing its key in etcd, so nobody may take over
    Then postgres1 does not take the leader key during 15 seconds
    And postgres0 is still the leader
    When I heal the network
    Then postgres1 is a streaming replica of postgres0 within 60 seconds
    And postgres2 is a streaming replica of postgres0 within 60 seconds
    When the writer stops
    Then the writer's longest gap stays under 1000 ms
    And every row the writer got acknowledged is on postgres0
    And table writer_check has every acknowledged row on postgres1 within 30 seconds

  Scenario: A replica isolated from etcd and the other nodes never promotes itself and rejoins after the cut heals
    Given the cluster runs on a test network
    And a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I isolate postgres2 from etcd and the other nodes
    Then postgres2 does not take the leader key during 15 seconds
    And postgres2 refuses writes within 1 seconds
    And postgres0 is still the leader
    When I heal the network
    Then postgres2 is a streaming replica of postgres0 within 60 seconds
    When the writer stops
    Then the writer's longest gap stays under 1000 ms
    And table writer_check has every acknowledged row on postgres2 within 30 seconds
