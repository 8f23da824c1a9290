Feature: REST API health checks and authentication
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
