"""svcctl: automatic service registration with Docker, a registrator and ZooKeeper."""

__version__ = "0.1.0"
