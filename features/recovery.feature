Feature: Recovery of a crashed primary
  A PostgreSQL crash under a live leader is repaired in place (same leader, same timeline), unless
  primary_start_timeout is 0: then the cluster fails over at once.

  Scenario: A crashed primary PostgreSQL is restarted in place on the same timeline
    Given a running cluster of 2 nodes
    When I crash the PostgreSQL of postgres0
    Then postgres0 accepts writes within 30 seconds
    And postgres0 is still the leader
    And postgres0 is on timeline 1
    And postgres1 is a streaming replica of postgres0 within 60 seconds

  Scenario: With primary_start_timeout 0 a crashed primary fails over immediately
    Given the bootstrap DCS setting primary_start_timeout is 0
    And a running cluster of 2 nodes
    When I crash the PostgreSQL of postgres0
    Then postgres1 is the leader within 10 seconds
    And postgres1 is on timeline 2
    And postgres0 is a streaming replica of postgres1 within 90 seconds
