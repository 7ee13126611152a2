"""The gateway: HAProxy in the data path, driven from ZooKeeper by a controller (the service
cache), as Airbnb's SmartStack drives HAProxy with Synapse.

- `haproxy`: the configuration (pure), the runtime API client, the stats CSV, the process.
- `controller`: the service cache → HAProxy's runtime API (add/drain/delete servers without a
  reload; a seamless master-worker reload only for a new service's backend).
- `stack`: `svcctl gateway up|down|status`, the gateway as a container of the Compose project.
- `image`: the `gateway` image (HAProxy + svcctl from host-built wheels).
"""
