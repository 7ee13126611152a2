"""Which security mode a project's cluster runs in (open, or TLS+ACL), and the TLS a client of
it uses: explicit --zk-ca/--zk-cert/--zk-key (SVCCTL_ZK_CA/CERT/KEY) first, else the project's
PKI (a reader identity for reads, the admin where svcctl writes) when the project's cluster is
secured and the client talks to its members.
No docker imports: the zk commands resolve this on every run."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.errors import BadInputError, NotFoundError
from svcctl.files import atomic_write

if TYPE_CHECKING:
    from svcctl.config.settings import Settings
    from svcctl.zk.tls import ZkTls

OPEN = "open"
SECURE = "tls+acl"
MODES = (OPEN, SECURE)


class SecurityPolicy(Enum):
    """What `cluster up` makes of the cluster's security: open, secured (TLS and ACLs with the
    project's PKI, made once), or secured on a PKI remade first (the cluster restarts on it)."""

    OPEN = "open"
    SECURED = "secured"
    SECURED_ROTATING_PKI = "secured, PKI remade"

    @classmethod
    def from_flags(cls, secure: bool, rotate: bool = False) -> SecurityPolicy:
        """The policy of `--secure` and `--rotate`; a rotation needs a secured cluster."""
        if rotate and not secure:
            raise BadInputError(
                "--rotate remakes the PKI of a secured cluster", "use `svcctl cluster up --secure --rotate`"
            )
        if not secure:
            return cls.OPEN
        return cls.SECURED_ROTATING_PKI if rotate else cls.SECURED

    @property
    def secured(self) -> bool:
        return self is not SecurityPolicy.OPEN

    @property
    def rotates_pki(self) -> bool:
        return self is SecurityPolicy.SECURED_ROTATING_PKI

    @property
    def mode(self) -> str:
        """The security mode the cluster runs in under this policy (recorded by `cluster up`)."""
        return SECURE if self.secured else OPEN


# Which of the project's identities a client presents: svcctl's read commands a reader, what
# writes (zk rm/prune, cluster up) the admin, the registrators their own.
READER = "reader:cli"
ADMIN = "admin"
REGISTRATOR = "registrator"


def mode_file(state: Path, project: str, over_hosts: bool = False) -> Path:
    """Under the project's state directory (Settings.state_path): never inside site-packages.
    The project's cluster over hosts keeps its own (its data lives on the hosts' engines, apart
    from the one-engine cluster's); Compose project names hold no dot, so the names never meet."""
    return state / "clusters" / f"{project}{'.hosts' if over_hosts else ''}.mode"


def recorded_mode(state: Path, project: str, over_hosts: bool = False) -> str | None:
    """What `cluster up` last started this project's cluster as; None when never (or removed
    with its volumes)."""
    try:
        text = mode_file(state, project, over_hosts).read_text().strip()
    except OSError:
        return None
    return text if text in MODES else None


def record_mode(state: Path, project: str, mode: str, over_hosts: bool = False) -> None:
    path = mode_file(state, project, over_hosts)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, mode + "\n", mode=0o644)


def forget_mode(state: Path, project: str, over_hosts: bool = False) -> None:
    mode_file(state, project, over_hosts).unlink(missing_ok=True)


def project_mode(settings: Settings) -> str | None:
    """The mode of the project's cluster: over hosts when a layout is recorded, else on this engine."""
    try:
        state = settings.state_path(create=False)
    except NotFoundError:
        return None
    if settings.layout is None:
        return recorded_mode(state, settings.project)
    if not mode_file(state, settings.project, over_hosts=True).exists():
        # Recorded by an svcctl that kept one mode file per project (a layout is saved only
        # after the hosts' mode is recorded, so this is that older state): take it over once.
        legacy = recorded_mode(state, settings.project)
        if legacy is not None:
            record_mode(state, settings.project, legacy, over_hosts=True)
    return recorded_mode(state, settings.project, over_hosts=True)


def project_pki(settings: Settings):
    """The project's PKI (made or not) under its state directory."""
    from svcctl.security.pki import Pki, pki_dir

    return Pki(pki_dir(settings.state_path(create=False)))


def explicit_tls(ca: str | None, cert: str | None, key: str | None) -> ZkTls | None:
    """--zk-ca/--zk-cert/--zk-key (or their SVCCTL_ZK_* variables) as given; None when none is."""
    if not (ca or cert or key):
        return None  # before importing the TLS module: one-shot commands on an open cluster skip it
    from svcctl.zk.tls import ZkTls

    if not ca:
        raise BadInputError(
            "--zk-cert/--zk-key need --zk-ca (the CA that signed the members' certificates)",
            "add --zk-ca CA.pem or SVCCTL_ZK_CA",
        )
    return ZkTls(
        Path(ca).expanduser(), Path(cert).expanduser() if cert else None, Path(key).expanduser() if key else None
    )


def client_tls(settings: Settings, identity: str = READER, hosts: list | None = None) -> ZkTls | None:
    """The TLS for this client's sessions (see the module docstring), or None for plain.
    `identity`: which of the project's client certificates (READER, ADMIN, REGISTRATOR) to present."""
    explicit = explicit_tls(settings.zk_ca, settings.zk_cert, settings.zk_key)
    if explicit is not None:
        return explicit
    hosts = settings.zk_hosts if hosts is None else hosts
    if project_mode(settings) != SECURE or not set(hosts) <= set(settings.ensemble_hosts):
        return None
    from svcctl.zk.tls import ZkTls

    who = project_pki(settings).client(identity)
    return ZkTls(who.ca, who.cert, who.key)


def ensemble_tls(settings: Settings) -> ZkTls | None:
    """TLS for four-letter words and sessions on the project's own members (cluster commands):
    the admin identity."""
    if project_mode(settings) != SECURE:
        return None
    from svcctl.zk.tls import ZkTls

    admin = project_pki(settings).admin
    return ZkTls(admin.ca, admin.cert, admin.key)
