Feature: REST API health checks, authentication and TLS
  haproxy and load balancers route by the status codes of the health endpoints (Patroni's table),
  and the unsafe endpoints need the restapi.authentication credentials.

  Scenario: Health endpoints answer by role and POST /reload needs credentials
    Given a running cluster of 2 nodes
    Then the REST API answers:
      | method  | path       | postgres0 | postgres1 |
      | GET     | /primary   | 200       | 503       |
      | HEAD    | /primary   | 200       | 503       |
      | OPTIONS | /primary   | 200       | 503       |
      | GET     | /replica   | 503       | 200       |
      | HEAD    | /replica   | 503       | 200       |
      | OPTIONS | /replica   | 503       | 200       |
      | GET     | /read-only | 200       | 200       |
      | HEAD    | /read-only | 200       | 200       |
      | OPTIONS | /read-only | 200       | 200       |
      | GET     | /health    | 200       | 200       |
      | HEAD    | /health    | 200       | 200       |
      | OPTIONS | /health    | 200       | 200       |
      | GET     | /leader    | 200       | 503       |
      | HEAD    | /leader    | 200       | 503       |
      | OPTIONS | /leader    | 200       | 503       |
      | GET     | /liveness  | 200       | 200       |
      | GET     | /          | 200       | 503       |
    And GET /patroni on postgres0 reports role primary and state running
    And GET /patroni on postgres1 reports role replica and state running
    And POST /reload on postgres0 without credentials answers 401 with a Basic challenge
    And POST /reload on postgres0 with wrong credentials answers 401
    And POST /reload on postgres0 with the right credentials answers 202
    And POST /reload on postgres1 without credentials answers 401 with a Basic challenge
    And POST /reload on postgres1 with the right credentials answers 202

  Scenario: HTTPS with required client certificates and an allowlist; members still call each other
    Given the REST API of every node serves HTTPS with verify_client required, allowing 127.0.0.3 and the members
    And a running cluster of 2 nodes
    And haproxy is running
    Then haproxy routes writes to postgres0 within 20 seconds
    And every member key advertises an https api_url
    And the REST API answers:
      | method  | path     | postgres0 | postgres1 |
      | GET     | /primary | 200       | 503       |
      | OPTIONS | /replica | 503       | 200       |
    And GET /primary on postgres0 without a client certificate gets no answer
    And POST /reload on postgres0 from 127.0.0.4 with the right credentials answers 403 "Access is denied"
    And POST /reload on postgres0 from 127.0.0.3 with the right credentials answers 202
    When I send POST /switchover to postgres0 with {"leader": "postgres0", "candidate": "postgres1"}
    Then the answer is 200 "Successfully switched over to \"postgres1\""
    And postgres1 is the leader within 5 seconds
    And haproxy routes writes to postgres1 within 20 seconds
    And postgres0 is a streaming replica of postgres1 within 30 seconds
