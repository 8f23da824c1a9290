Feature: patronictl works unchanged against a pgwarden cluster
  Debian's patronictl 3.0.2, given a node's own YAML, reads the cluster from etcd and acts through
  the REST API. Skipped, with the reason printed, when patronictl is not installed.

  Scenario: patronictl lists, edits the configuration, switches over, fails over, restarts, reinitializes, reloads and pauses
    Given patronictl is installed
    And a running cluster of 3 nodes
    Then patronictl list shows postgres0 as Leader
    And patronictl topology, history, show-config, dsn and version succeed
    When I run patronictl edit-config -s ttl=12 --force
    Then the config key has ttl 12
    When I run patronictl switchover --leader postgres0 --candidate postgres1 --force
    Then postgres1 is the leader within 10 seconds
    And postgres0 is a streaming replica of postgres1 within 30 seconds
    # a candidate must stream from the leader before it is handed the key (pgwarden refuses otherwise)
    And postgres2 is a streaming replica of postgres1 within 30 seconds
    When I run patronictl failover --candidate postgres2 --force
    Then postgres2 is the leader within 10 seconds
    And postgres1 is a streaming replica of postgres2 within 30 seconds
    When I remember the postmaster start time of postgres0
    And I run patronictl restart batman postgres0 --force
    Then the postmaster of postgres0 has restarted within 10 seconds
    When I run patronictl reinit batman postgres1 --force
    Then postgres1 is a streaming replica of postgres2 within 60 seconds
    When I run patronictl reload batman --force
    And I run patronictl pause
    Then every member key shows pause within 10 seconds
    When I run patronictl resume
    Then no member key shows pause within 10 seconds
