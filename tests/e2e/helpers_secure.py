"""The secured test ensemble (`cluster up --secure`) in a project of its own, next to the open
one: SVCCTL_TEST_PROJECT-secure on the test ports + 2000 (14181-14183 by default)."""

from __future__ import annotations

from tests.support import ROOT, TEST_PROJECT, TEST_ZK_PORTS, svcctl_env

SECURE_PROJECT = f"{TEST_PROJECT}-secure"
SECURE_PORTS = tuple(int(p) + 2000 for p in TEST_ZK_PORTS.split(","))
SECURE_ZK = ",".join(f"127.0.0.1:{p}" for p in SECURE_PORTS)
PKI = ROOT / ".svcctl" / "pki"
PREFIX = f"{SECURE_PROJECT}-"
READER = "reader:cli"  # the CLI's reader identity (what svcctl's read commands present)


def secure_env(**extra: str) -> dict[str, str]:
    return svcctl_env(
        SVCCTL_PROJECT=SECURE_PROJECT, SVCCTL_ZK_PORTS=",".join(map(str, SECURE_PORTS)), SVCCTL_ZK=SECURE_ZK, **extra
    )


def identity_files(identity: str) -> tuple[str, str]:
    """(cert, key) of a PKI identity: admin, registrator, or reader:NAME."""
    base = PKI / "readers" / identity.split(":", 1)[1] if identity.startswith("reader:") else PKI / identity
    return str(base / "cert.pem"), str(base / "key.pem")


def tls_client(identity: str | None = None, ca=None, start_timeout: float = 15, **extra):
    """A started kazoo client over TLS: with the CA only (refused by a secured ensemble: no
    session opens without a certificate) or as a PKI identity (admin, registrator, reader:NAME),
    whose creates carry the registrators' ACL (all for the identity, read for anyone)."""
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    kwargs = {}
    if identity:
        cert, key = identity_files(identity)
        cn = f"svcctl-reader@{identity.split(':', 1)[1]}" if identity.startswith("reader:") else f"svcctl-{identity}"
        kwargs = {
            "certfile": cert,
            "keyfile": key,
            "default_acl": [make_acl("x509", f"CN={cn}", all=True), make_acl("world", "anyone", read=True)],
        }
    client = KazooClient(
        hosts=extra.pop("hosts", SECURE_ZK), timeout=10, use_ssl=True, ca=str(ca or PKI / "ca.pem"), **kwargs, **extra
    )
    try:
        client.start(timeout=start_timeout)
    except BaseException:
        client.stop()
        client.close()
        raise
    return client


def without_time_wait(sock):
    """Close `sock` with a reset instead of a FIN: no TIME-WAIT left behind. Thousands of
    closed test connections would otherwise hold even ports of the ephemeral range (where the
    test projects' ZooKeeper ports lie) and make a later `cluster up` find its port in use."""
    import socket
    import struct

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return sock


class RacingOutsider:
    """An outsider on this machine with only ca.pem, polling every member from before `cluster up
    --secure` until told to stop: each round it tries a TLS handshake without a certificate and,
    should a session ever open, plants what would take the registry over (a world-writable
    /services, /services/service_2, the engine's election node and a lock first in line in it)."""

    PLANTS = (
        "/services",
        "/services/service_2",
        "/svcctl/registrators/{engine}",
        "/svcctl/registrators/{engine}/attacker__lock__0000000000",
    )

    def __init__(self, ports: tuple[int, ...], engine_id: str) -> None:
        import threading

        self.ports, self.engine_id = ports, engine_id
        self.rounds = self.refused = self.sessions = 0
        self.planted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        import ssl

        from svcctl.zk.fourletter import four_letter_word

        while not self._stop.is_set():
            self.rounds += 1
            if not (PKI / "ca.pem").is_file():  # it has the CA as soon as the project publishes it
                self._stop.wait(0.05)
                continue
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.load_verify_locations(str(PKI / "ca.pem"))
            for port in self.ports:
                try:
                    answer = four_letter_word("127.0.0.1", port, "ruok", timeout=1, tls=context)
                except ssl.SSLError:
                    self.refused += 1  # reachable, and it refused us
                    continue
                except OSError:
                    continue  # not listening yet
                if answer:
                    self._plant(port)  # the member answered without a certificate
                else:
                    self.refused += 1  # the handshake passed, then the member closed on us unanswered
            self._stop.wait(0.1)

    def _plant(self, port: int) -> None:
        from kazoo.client import KazooClient
        from kazoo.security import make_acl

        client = KazooClient(hosts=f"127.0.0.1:{port}", use_ssl=True, ca=str(PKI / "ca.pem"), timeout=5)
        try:
            client.start(timeout=2)
        except Exception:
            return
        self.sessions += 1
        try:
            for path in self.PLANTS:
                path = path.format(engine=self.engine_id)
                try:
                    client.create(
                        path,
                        b"attacker",
                        acl=[make_acl("world", "anyone", all=True)],
                        makepath=True,
                        ephemeral=path.endswith("0000000000"),
                    )
                    self.planted.append(path)
                except Exception:
                    pass
        finally:
            client.stop()
            client.close()


# --- ZooKeeper's session passwords, as an attacker derives them -----------------------------------

ZK_SUPER_SECRET = 0xB3415C00  # ZooKeeper's SessionTrackerImpl: password = Random(id ^ this).nextBytes(16)
_MULTIPLIER, _ADDEND, _MASK = 0x5DEECE66D, 0xB, (1 << 48) - 1


class JavaRandom:
    """java.util.Random (the 48-bit linear congruential generator), as far as nextBytes."""

    def __init__(self, seed: int) -> None:
        self.seed = (seed ^ _MULTIPLIER) & _MASK

    def next_int(self) -> int:
        self.seed = (self.seed * _MULTIPLIER + _ADDEND) & _MASK
        value = self.seed >> 16
        return value - (1 << 32) if value >= 1 << 31 else value

    def next_bytes(self, count: int) -> bytes:
        out = bytearray()
        while len(out) < count:
            rnd = self.next_int()
            for _ in range(min(count - len(out), 4)):
                out.append(rnd & 0xFF)
                rnd >>= 8
        return bytes(out)


def session_password(session_id: int) -> bytes:
    """The password ZooKeeper gives session `session_id` (what re-attaching to it needs)."""
    return JavaRandom(session_id ^ ZK_SUPER_SECRET).next_bytes(16)
