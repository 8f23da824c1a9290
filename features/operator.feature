Feature: Operator control through the REST API
  Operators move the leader, restart and reinitialize nodes, change the dynamic configuration and
  pause automation with authenticated REST calls (Patroni's endpoints, bodies and answers).
  A refused request changes nothing.

  Scenario: A planned switchover under a steady write load loses no acknowledged write
    Given a running cluster of 3 nodes
    And haproxy is running
    And haproxy routes writes to postgres0 within 15 seconds
    When a writer inserts a row through haproxy every 20 ms
    And I wait 2 seconds
    And I send POST /switchover to postgres0 with {"leader": "postgres0", "candidate": "postgres1"}
    Then the answer is 200 "Successfully switched over to \"postgres1\""
    And postgres1 is the leader within 5 seconds
    And the writer's rows land on postgres1 within 10 seconds
    When the writer stops
    Then every row the writer got acknowledged is on postgres1
    And postgres0 is a streaming replica of postgres1 within 30 seconds

  Scenario: A scheduled switchover waits for its time, a failover goes to the named candidate
    Given a running cluster of 3 nodes
    When I send POST /switchover to postgres0 scheduled 8 seconds from now with {"leader": "postgres0", "candidate": "postgres2"}
    Then the answer is 202 "Switchover scheduled"
    And GET /cluster on postgres1 shows a scheduled switchover to postgres2
    And postgres0 is still the leader
    And postgres2 is the leader within 25 seconds
    And the failover key is empty within 10 seconds
    And postgres1 is a streaming replica of postgres2 within 30 seconds
    When I send POST /failover to postgres2 with {"candidate": "postgres1"}
    Then the answer is 200 "Successfully failed over to \"postgres1\""
    And postgres1 is the leader within 5 seconds
    And postgres2 is a streaming replica of postgres1 within 30 seconds

  Scenario: Restarts (immediate, scheduled, filtered) and reinitialize of a replica
    Given a running cluster of 2 nodes
    When I send POST /restart to postgres1 with {"role": "primary"}
    Then the answer is 503 "restart conditions are not satisfied"
    When I remember the postmaster start time of postgres1
    And I send POST /restart to postgres1 with {}
    Then the answer is 200 "restarted successfully"
    And the postmaster of postgres1 has restarted within 5 seconds
    When I remember the postmaster start time of postgres0
    And I send POST /restart to postgres0 scheduled 6 seconds from now with {"role": "primary"}
    Then the answer is 202 "Restart scheduled"
    And GET /patroni on postgres0 shows scheduled_restart within 5 seconds
    And the postmaster of postgres0 has restarted within 20 seconds
    And GET /patroni on postgres0 shows no scheduled_restart within 5 seconds
    And postgres0 is still the leader
    When I write "before reinit" into table reinit_check on postgres0
    And I send POST /reinitialize to postgres0 with {}
    Then the answer is 503 "I am the leader, can not reinitialize"
    When I send POST /reinitialize to postgres1 with {"force": true}
    Then the answer is 200 "reinitialize started"
    And postgres1 is a streaming replica of postgres0 within 60 seconds
    And table reinit_check contains "before reinit" on postgres1 within 15 seconds

  Scenario: The dynamic configuration changes ttl and max_connections; bad and concurrent patches are refused
    Given a running cluster of 2 nodes
    When I send PATCH /config to postgres1 with {"ttl": 14, "postgresql": {"parameters": {"max_connections": 120}}}
    Then the answer is 200
    And the leader lease of postgres0 has more than 11 seconds left within 10 seconds
    And GET /patroni on postgres0 shows pending_restart within 15 seconds
    And GET /patroni on postgres1 shows pending_restart within 15 seconds
    When I send POST /restart to postgres0 with {"restart_pending": true}
    Then the answer is 200 "restarted successfully"
    And postgres0 runs with max_connections 120
    And GET /patroni on postgres0 shows no pending_restart within 10 seconds
    When I send PATCH /config to postgres0 with {"ttl": 5}
    Then the answer is 400
    And the config key has ttl 14
    When I send 20 concurrent PATCH /config requests with different work_mem values
    Then every concurrent answer is 200 or 409, at least one is 409, and the config key holds a value answered 200

  Scenario: Pause stops automatic actions, resume restores them without a failover
    Given a running cluster of 3 nodes
    When I send PATCH /config to postgres0 with {"pause": true}
    Then the answer is 200
    And every member key shows pause within 10 seconds
    When I crash the PostgreSQL of postgres2
    Then the PostgreSQL of postgres2 stays down for 8 seconds
    When I stop the agent of postgres0 with SIGTERM
    Then postgres0 still accepts writes
    And postgres1 does not take the leader key during 15 seconds
    When I start postgres0
    Then postgres0 is the leader within 20 seconds
    When I send PATCH /config to postgres1 with {"pause": null}
    Then the answer is 200
    And no member key shows pause within 10 seconds
    And postgres2 is a streaming replica of postgres0 within 30 seconds
    And postgres0 is still the leader

  Scenario: Every write endpoint refuses missing or wrong credentials and changes nothing
    Given a running cluster of 2 nodes
    When I remember the state of the cluster
    Then every write endpoint of postgres0 answers 401 without credentials and with wrong ones
    And every write endpoint of postgres1 answers 401 without credentials and with wrong ones
    And the state of the cluster is unchanged
