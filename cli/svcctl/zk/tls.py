"""TLS (and the x509 identity it carries) for clients of a secured ensemble: kazoo sessions,
four-letter words, and one-line diagnoses of why a TLS connection failed (kazoo itself only
retries quietly until its start times out)."""

from __future__ import annotations

import datetime
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from svcctl.config.settings import ZkHost
from svcctl.errors import BadInputError, ZooKeeperUnavailableError

if TYPE_CHECKING:
    from kazoo.handlers.threading import SequentialThreadingHandler


@dataclass(frozen=True)
class CertInfo:
    subject: str  # RFC 4514, as ZooKeeper's x509 provider names the identity (e.g. CN=svcctl-admin)
    not_after: datetime.datetime


def read_cert(path: Path, option: str = "--zk-cert") -> CertInfo:
    """The subject and expiry of a PEM certificate; a missing or unreadable file is bad input."""
    from cryptography import x509

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInputError(
            f"{option} {path}: cannot read the certificate ({exc.strerror or exc})",
            f"give an existing PEM certificate to {option}",
        ) from None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise BadInputError(
            f"{option} {path} is not a PEM certificate",
            f"give a PEM certificate (-----BEGIN CERTIFICATE-----) to {option}",
        ) from None
    return CertInfo(cert.subject.rfc4514_string(), cert.not_valid_after_utc)


TLS_HINT = "pass --zk-ca CA.pem (and --zk-cert/--zk-key for an identity), or SVCCTL_ZK_CA/CERT/KEY"


@dataclass(frozen=True)
class ZkTls:
    """The CA that signs the members' certificates, and optionally our client certificate."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None
    check_hostname: bool = True
    # Other x509 identities given all rights on what we create (the registrators of the other
    # hosts of a cluster over hosts: any of them may add under a service node we made).
    writers: tuple[str, ...] = ()
    _context: list = field(default_factory=list, compare=False, repr=False)  # built once, on first use

    def validate(self) -> None:
        """Bad input before any connection (exit 2): a missing file, a certificate without its
        key, a key that is not the certificate's. Cheap: no certificate parsing here (an expired
        certificate is named by diagnose() when the ensemble refuses it)."""
        if not Path(self.ca).is_file():
            raise BadInputError(f"--zk-ca {self.ca}: no such file", TLS_HINT)
        if bool(self.cert) != bool(self.key):
            given, missing = ("--zk-cert", "--zk-key") if self.cert else ("--zk-key", "--zk-cert")
            raise BadInputError(
                f"{given} given without {missing}", "give both the client certificate and its key, or neither"
            )
        for option, path in (("--zk-cert", self.cert), ("--zk-key", self.key)):
            if path and not Path(path).is_file():
                raise BadInputError(
                    f"{option} {path}: no such file", "give the client certificate and its private key (PEM)"
                )
        self.context()

    def expired(self) -> BadInputError | None:
        """The client certificate's expiry, as an error to report (None: valid or none)."""
        if not self.cert:
            return None

        info = read_cert(self.cert)
        if info.not_after >= datetime.datetime.now(datetime.UTC):
            return None
        return BadInputError(
            f"the client certificate {self.cert} ({info.subject}) expired on {info.not_after:%Y-%m-%d %H:%M} UTC",
            "renew it (`svcctl cluster up --secure --rotate` remakes the project's PKI)",
        )

    def context(self) -> ssl.SSLContext:
        """Only our CA (no system store: loading it costs ~20 ms a connect and trusts too much)."""
        if self._context:
            return self._context[0]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.check_hostname
        try:
            context.load_verify_locations(cafile=str(self.ca))
        except (OSError, ssl.SSLError) as exc:
            raise BadInputError(f"--zk-ca {self.ca} is not a PEM CA certificate ({_reason(exc)})", TLS_HINT) from None
        if self.cert and self.key:
            try:
                context.load_cert_chain(certfile=str(self.cert), keyfile=str(self.key))
            except (OSError, ssl.SSLError) as exc:
                raise BadInputError(
                    f"--zk-cert {self.cert} / --zk-key {self.key} cannot be used ({_reason(exc)})",
                    "give a PEM certificate and the private key that belongs to it",
                ) from None
        self._context.append(context)
        return context

    def identity(self) -> str | None:
        """Our x509 identity as ZooKeeper names it (e.g. CN=svcctl-registrator), or None."""

        return read_cert(self.cert).subject if self.cert else None

    def kazoo_kwargs(self) -> dict[str, Any]:
        return {
            "use_ssl": True,
            "ca": str(self.ca),
            "certfile": str(self.cert) if self.cert else None,
            "keyfile": str(self.key) if self.key else None,
            "check_hostname": self.check_hostname,
            "handler": tls_handler(self.context()),
        }

    def registry_acl(self) -> list | None:
        """What our creates carry: all rights for our identity (and the other `writers`), read
        for anyone. None without a client certificate (an anonymous client cannot write under a
        secured registry anyway)."""
        identity = self.identity()
        if not identity:
            return None
        return registry_acl([identity, *self.writers])


def registry_acl(writers: list[str]) -> list:
    """The ACL of every node under a secured registry: all rights for each writer identity (x509
    subjects, in a stable order), read for anyone (every session holds a certificate)."""
    from kazoo.security import make_acl

    return [*(make_acl("x509", w, all=True) for w in sorted(set(writers))), make_acl("world", "anyone", read=True)]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return getattr(exc, "strerror", None) or str(exc)


def tls_handler(context: ssl.SSLContext) -> SequentialThreadingHandler:
    """kazoo's threading handler with connections wrapped by our prebuilt context."""
    from kazoo.handlers.threading import SequentialThreadingHandler

    class _TlsHandler(SequentialThreadingHandler):
        def create_connection(self, address, hostname=None, timeout=None, use_ssl=False, **_ignored: Any):
            if not use_ssl:
                return super().create_connection(address, hostname=hostname, timeout=timeout)
            raw = socket.create_connection(address, timeout)
            try:
                sock = context.wrap_socket(raw, server_hostname=hostname)
            except BaseException:
                raw.close()
                raise
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    return _TlsHandler()


def diagnose(
    hosts: list[ZkHost], tls: ZkTls | None, timeout: float = 3.0
) -> ZooKeeperUnavailableError | BadInputError | None:
    """After a session could not start: try one TLS handshake (or, without TLS, ask whether the
    member speaks TLS) and say which of wrong CA, refused certificate, plain port, TLS-only port
    it is. None when nothing specific was found (the member is simply down)."""
    if tls is not None:
        expired = tls.expired()
        if expired is not None:
            return expired
    for host in hosts:
        try:
            raw = socket.create_connection((host.host, host.port), timeout)
        except OSError:
            continue
        with raw:
            raw.settimeout(timeout)
            if tls is None:
                return _plain_client_diagnosis(raw, host)
            try:
                with tls.context().wrap_socket(raw, server_hostname=host.host) as sock:
                    sock.sendall(b"ruok")
                    sock.recv(16)  # a certificate refused under TLS 1.3 shows only here
            except ssl.SSLCertVerificationError as exc:
                if "hostname" in (exc.verify_message or "").lower() or "IP address mismatch" in str(exc):
                    return BadInputError(
                        f"{host}'s certificate does not name {host.host} ({exc.verify_message})",
                        "connect by a name or address in the members' certificates (127.0.0.1, localhost, zoo1..zoo3)",
                    )
                return BadInputError(
                    f"{host}'s certificate is not signed by the CA {tls.ca} ({exc.verify_message})",
                    "give the ensemble's own CA with --zk-ca (for this project: ca.pem of its PKI, `svcctl cluster "
                    "status` names it)",
                )
            except ssl.SSLError as exc:
                reason = (exc.reason or str(exc)).lower()
                if "wrong_version" in reason or "record_layer" in reason or "packet_length" in reason:
                    return ZooKeeperUnavailableError(
                        f"{host} does not speak TLS (an open ensemble?)",
                        "drop --zk-ca/--zk-cert/--zk-key (SVCCTL_ZK_CA...) for an open ensemble",
                    )
                if "certificate" in reason or "alert" in reason or "handshake" in reason:
                    if not tls.cert:  # a secured ensemble opens no session without an identity
                        return BadInputError(
                            f"{host} refused this client: it opens no session without a client certificate "
                            f"({exc.reason or exc})",
                            "give --zk-cert/--zk-key (SVCCTL_ZK_CERT/KEY): `svcctl pki issue NAME --role reader` "
                            "writes a reader's",
                        )
                    return BadInputError(
                        f"{host} refused the client certificate {tls.cert} ({exc.reason or exc})",
                        "use a certificate signed by the ensemble's CA "
                        "(`svcctl pki issue NAME --role reader` writes one)",
                    )
                continue  # e.g. closed mid-handshake by a member that is not serving yet
            except OSError:
                continue
        return None
    return None


def _plain_client_diagnosis(raw: socket.socket, host: ZkHost) -> ZooKeeperUnavailableError | None:
    """A plain client on a TLS-only port: ZooKeeper waits for a TLS ClientHello and then drops us."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        with probe.wrap_socket(raw, server_hostname=host.host):
            pass
    except (ssl.SSLError, OSError):
        return None
    return ZooKeeperUnavailableError(f"{host} accepts TLS connections only (a secured ensemble)", TLS_HINT)
