Feature: Failover
  When the leader's node dies or is stopped, a healthy replica takes the leader key and haproxy's
  read-write port follows it; a replica tagged nofailover never does.

  Scenario: The leader's agent and postmaster are killed: a replica takes over and the old leader rejoins
    Given a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When I write "before the failover" into table failover_check through haproxy
    Then table failover_check contains "before the failover" on every node within 15 seconds
    When I kill -9 the agent and the postmaster of postgres0
    # ttl (10 s) + 10 s
    Then a new leader other than postgres0 accepts writes through haproxy within 20 seconds
    And table failover_check contains "before the failover" on the new leader within 5 seconds
    And every other running node is a streaming replica of the new leader within 60 seconds
    When I start postgres0
    Then postgres0 is a streaming replica of the new leader within 90 seconds
    When I write "after the failover" into table failover_check through haproxy
    Then table failover_check contains "after the failover" on postgres0 within 15 seconds

  Scenario: A leader stopped with SIGTERM hands over within seconds
    Given a running cluster of 3 nodes
    When I stop the agent of postgres0 with SIGTERM
    Then a node other than postgres0 is the leader within 10 seconds
    And the agent of postgres0 exits with code 0 within 30 seconds
    And every other running node is a streaming replica of the new leader within 60 seconds

  Scenario: A replica tagged nofailover never takes the leader key
    Given postgres1 is tagged nofailover
    And a running cluster of 2 nodes
    When I kill -9 the agent and the postmaster of postgres0
    # ttl (10 s) + 10 s
    Then postgres1 does not take the leader key during 20 seconds
    And nobody holds the leader key
    And postgres1 is still a replica
