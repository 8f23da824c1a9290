Feature: Bootstrap and replication
  A new cluster elects one leader; the other nodes clone it and stream its WAL, so a table written
  on the leader shows up on every replica.

  Scenario: A three-node cluster bootstraps with one leader and two streaming replicas
    Given etcd is running
    And postgres0 is started
    Then postgres0 is the leader within 60 seconds
    When I start postgres1
    And I start postgres2
    Then postgres1 is a streaming replica of postgres0 within 120 seconds
    And postgres2 is a streaming replica of postgres0 within 120 seconds
    And GET /patroni on postgres0 reports role primary and state running
    And GET /patroni on postgres1 reports role replica and state running
    And GET /patroni on postgres2 reports role replica and state running
    When I write "hello replicas" into table bootstrap_check on postgres0
    Then table bootstrap_check contains "hello replicas" on postgres1 within 15 seconds
    And table bootstrap_check contains "hello replicas" on postgres2 within 15 seconds
