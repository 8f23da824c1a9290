Feature: Topology watcher
  `pgwarden watch` runs on application and proxy hosts. It follows the cluster in etcd and runs
  plugins, with the cluster as JSON on stdin, once at start and whenever the leader or the healthy
  members change. Here the example plugins repoint a pgbouncer database entry and regenerate the
  server line of an haproxy section that lists the leader only, so that clients of both reach the
  new leader after a failover only because the watcher rewrote their configuration.

  Scenario: After the leader dies, clients through pgbouncer and haproxy reach the new leader
    Given a running cluster of 3 nodes
    And pgwarden watch keeps a pgbouncer and an haproxy pointed at the leader
    # the start run: pgbouncer's entry points at port 1 and haproxy's section is empty before it
    Then clients through pgbouncer and haproxy reach postgres0 within 15 seconds
    When I kill -9 the agent and the postmaster of postgres0
    # ttl (10 s) + 10 s
    Then a node other than postgres0 is the leader within 20 seconds
    And clients through pgbouncer and haproxy reach the new leader within 15 seconds
    And every plugin run of the watcher succeeded
    When I stop the watcher with SIGTERM
    Then the watcher exits with code 0 within 15 seconds
