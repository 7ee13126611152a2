"""Workloads shared by the e2e tests and the benchmarks: the tiny image and the HTTP responder.
Neither the tests nor the benchmarks import each other; both import this."""
