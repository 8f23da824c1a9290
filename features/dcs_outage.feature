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
