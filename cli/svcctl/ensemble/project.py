"""Names of the registrator services in compose/registrator.yml (kept apart so the cluster
module need not import the registrator daemon)."""

REGISTRATOR_SERVICES = ("registrator1", "registrator2", "registrator3")
