"""The secured test ensemble (`cluster up --secure`) in a project of its own, next to the open
one: SVCCTL_TEST_PROJECT-secure on the test ports + 2000 (14181-14183 by default)."""

from __future__ import annotations

from tests.support import ROOT, TEST_PROJECT, TEST_ZK_PORTS, svcctl_env

SECURE_PROJECT = f"{TEST_PROJECT}-secure"
SECURE_PORTS = tuple(int(p) + 2000 for p in TEST_ZK_PORTS.split(","))
SECURE_ZK = ",".join(f"127.0.0.1:{p}" for p in SECURE_PORTS)
PKI = ROOT / ".svcctl" / "pki"
PREFIX = f"{SECURE_PROJECT}-"


def secure_env(**extra: str) -> dict[str, str]:
    return svcctl_env(SVCCTL_PROJECT=SECURE_PROJECT, SVCCTL_ZK_PORTS=",".join(map(str, SECURE_PORTS)), SVCCTL_ZK=SECURE_ZK, **extra)


def tls_client(identity: str | None = None, ca=None):
    """A started kazoo client over TLS: anonymous (the CA only) or as a PKI identity, whose
    creates carry the registrators' ACL (all for the identity, read for anyone)."""
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    kwargs = {}
    if identity:
        kwargs = {"certfile": str(PKI / identity / "cert.pem"), "keyfile": str(PKI / identity / "key.pem"),
                  "default_acl": [make_acl("x509", f"CN=svcctl-{identity}", all=True), make_acl("world", "anyone", read=True)]}
    client = KazooClient(hosts=SECURE_ZK, timeout=10, use_ssl=True, ca=str(ca or PKI / "ca.pem"), **kwargs)
    client.start(timeout=15)
    return client
