"""The project's PKI for the secured ensemble, under <state-dir>/pki/ (made once, remade only on
request), with Python's `cryptography`. Private keys never leave the directory and are 0600;
nothing here logs or returns a secret.

Two CAs: the client CA signs what the client ports present and accept (members' client-port
certificates, the admin, the registrators, readers); the quorum CA signs only the members'
quorum certificates, so the quorum port accepts no client identity as a peer.

Layout (what each consumer mounts or reads):
  ca.pem, ca-key.pem              the client CA (ca.pem: what any consumer needs to trust)
  quorum-ca.pem, quorum-ca-key.pem the quorum CA
  zoo1/ zoo2/ zoo3/               one per member: ca.pem, keystore.pem (client port: key +
                                  certificate naming that member only, PEM), quorum-ca.pem,
                                  quorum.pem (its quorum key + certificate)
  registrator/                    ca.pem, cert.pem, key.pem: the registrators' identity (x509 ACL)
  admin/                          ca.pem, cert.pem, key.pem: the admin identity (x509 super user)
  readers/NAME/                   ca.pem, cert.pem, key.pem: a reader (CN=svcctl-reader@NAME):
                                  `cli` (svcctl's read commands), `gateway`, and any consumer's
                                  from `svcctl pki issue NAME --role reader`
  hosts/HOST/                     a cluster over Docker hosts: what is shipped into host HOST's
    member/                       engine: its member's files as in zooN/ (its client-port
                                  certificate also names the host's address) and member.json,
    registrator/                  the host's registrator identity (CN=svcctl-registrator@HOST)
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from svcctl.config.engines import TLS_FILES
from svcctl.errors import BadInputError, ConflictError
from svcctl.files import atomic_write

MEMBERS = ("zoo1", "zoo2", "zoo3")
REGISTRATOR_CN = "svcctl-registrator"
ADMIN_CN = "svcctl-admin"
READER_CN_PREFIX = "svcctl-reader@"
HOST_REGISTRATOR_CN_PREFIX = "svcctl-registrator@"  # one identity per host of a cluster over hosts
CA_CN = "svcctl ensemble CA"
QUORUM_CA_CN = "svcctl quorum CA"
SERVER_SANS = ("localhost", "127.0.0.1")  # plus the member's own name (and no other member's)
CLI_READER = "cli"  # the identity of svcctl's own read commands
GATEWAY_READER = "gateway"
BUILTIN_READERS = (CLI_READER, GATEWAY_READER)
ROLES = ("reader",)
CERT_DAYS = 825
CA_DAYS = 3650
KEY_MODE = 0o600
DIR_MODE = 0o700
MEMBER_FILES = ("ca.pem", "keystore.pem", "quorum-ca.pem", "quorum.pem")
_READER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def pki_dir(state: Path) -> Path:
    """The PKI of a project whose state directory is `state` (Settings.state_path)."""
    return state / "pki"


@dataclass(frozen=True)
class ClientIdentity:
    """A client's certificate and key plus the CA it trusts."""

    ca: Path
    cert: Path
    key: Path

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return self.ca, self.cert, self.key


@dataclass(frozen=True)
class CaDirectory:
    """A directory holding a CA (ca.pem, ca-key.pem) and what it issued."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca-key.pem"


@dataclass(frozen=True)
class Pki(CaDirectory):
    @property
    def quorum_ca(self) -> Path:
        return self.root / "quorum-ca.pem"

    @property
    def quorum_ca_key(self) -> Path:
        return self.root / "quorum-ca-key.pem"

    def member_dir(self, member: str) -> Path:
        return self.root / member

    def member_files(self, member: str) -> list[Path]:
        return [self.member_dir(member) / f for f in MEMBER_FILES]

    def client(self, name: str) -> ClientIdentity:
        """admin, registrator, or `reader:NAME`."""
        if name.startswith("reader:"):
            return self.reader(name.split(":", 1)[1])
        return ClientIdentity(self.root / name / "ca.pem", self.root / name / "cert.pem", self.root / name / "key.pem")

    def reader(self, name: str) -> ClientIdentity:
        base = self.root / "readers" / name
        return ClientIdentity(base / "ca.pem", base / "cert.pem", base / "key.pem")

    def readers(self) -> list[str]:
        base = self.root / "readers"
        return sorted(p.name for p in base.iterdir() if (p / "cert.pem").is_file()) if base.is_dir() else []

    @property
    def admin(self) -> ClientIdentity:
        return self.client("admin")

    def host_dir(self, host: str) -> Path:
        return self.root / "hosts" / host

    def host_member_dir(self, host: str) -> Path:
        return self.host_dir(host) / "member"

    def host_registrator(self, host: str) -> ClientIdentity:
        base = self.host_dir(host) / "registrator"
        return ClientIdentity(base / "ca.pem", base / "cert.pem", base / "key.pem")

    def hosts(self) -> list[str]:
        base = self.root / "hosts"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    @property
    def registrator(self) -> ClientIdentity:
        return self.client("registrator")

    def complete(self) -> bool:
        needed = [
            self.ca,
            self.ca_key,
            self.quorum_ca,
            self.quorum_ca_key,
            *(f for m in MEMBERS for f in self.member_files(m)),
        ]
        needed += [p for who in (self.admin, self.registrator, *map(self.reader, BUILTIN_READERS)) for p in who.files]
        return all(p.is_file() for p in needed)

    def fingerprint(self) -> str:
        """A short digest of the CA certificates ("none" without the client CA): it changes with
        --rotate, and when an older PKI gets its quorum CA (the members must restart on it)."""
        import hashlib

        try:
            digest = hashlib.sha256(self.ca.read_bytes())
        except OSError:
            return "none"
        if self.quorum_ca.is_file():
            digest.update(self.quorum_ca.read_bytes())
        return digest.hexdigest()[:16]

    def secret_files(self) -> list[Path]:
        """Every file holding a private key: must be 0600."""
        members = [self.member_dir(m) / f for m in MEMBERS for f in ("keystore.pem", "quorum.pem")]
        readers = [self.reader(name).key for name in self.readers()]
        hosts = [
            p
            for h in self.hosts()
            for p in (
                self.host_member_dir(h) / "keystore.pem",
                self.host_member_dir(h) / "quorum.pem",
                self.host_registrator(h).key,
            )
        ]
        return [self.ca_key, self.quorum_ca_key, *members, self.admin.key, self.registrator.key, *readers, *hosts]

    def container_dirs(self) -> list[Path]:
        """The directories containers mount (members, registrators, the gateway's reader)."""
        return [
            *(self.member_dir(m) for m in MEMBERS),
            self.registrator.cert.parent,
            self.reader(GATEWAY_READER).cert.parent,
        ]


def reader_cn(name: str) -> str:
    return f"{READER_CN_PREFIX}{name}"


def host_registrator_cn(host: str) -> str:
    return f"{HOST_REGISTRATOR_CN_PREFIX}{host}"


@dataclass(frozen=True)
class HostBundle:
    """What one host of a cluster over hosts receives: the member it runs and its registrators'
    identity, named by the host's Docker context and reached at its address."""

    host: str
    member: str  # zoo1..zoo3
    address: str


def ensure_host_bundles(pki: Pki, bundles: list[HostBundle]) -> list[str]:
    """Each host's member certificates (naming the member and the host's address, the one
    clients and peers reach it at) and registrator identity, issued by the project's CAs where
    missing or made for another address; returns the hosts issued for. Existing bundles that
    fit are left as they are (their keys stay where they were shipped)."""
    import json

    ca_cert, ca_key = _load_ca(pki)
    ca_pem = pki.ca.read_bytes()
    quorum_cert, quorum_key = _load_quorum_ca(pki)
    issued = []
    for bundle in bundles:
        directory = pki.host_member_dir(bundle.host)
        marker = directory / "member.json"
        wanted = {"member": bundle.member, "address": bundle.address, "ca": pki.fingerprint()}
        try:
            fits = json.loads(marker.read_text()) == wanted and all((directory / f).is_file() for f in MEMBER_FILES)
        except (OSError, ValueError):
            fits = False
        who = pki.host_registrator(bundle.host)
        if fits and all(p.is_file() for p in who.files):
            continue
        _mkdir(pki.host_dir(bundle.host))
        if not fits:
            _issue_member(
                directory,
                bundle.member,
                (bundle.member, bundle.address, *SERVER_SANS),
                ca_cert,
                ca_key,
                ca_pem,
                quorum_cert,
                quorum_key,
            )
            _write_public(marker, (json.dumps(wanted) + "\n").encode())
        if not fits or not all(p.is_file() for p in who.files):
            _issue_client(who, host_registrator_cn(bundle.host), ca_cert, ca_key, ca_pem)
        issued.append(bundle.host)
    return issued


def reissue_host_registrator(pki: Pki, host: str) -> ClientIdentity:
    """A new key and certificate for one host's registrator identity (the same subject, so the
    registry's ACLs stay as they are); the other hosts' identities are not touched."""
    who = pki.host_registrator(host)
    if not who.cert.is_file():
        raise BadInputError(
            f"host {host} has no registrator identity in {pki.root}",
            "name a host of the secured cluster "
            f"({', '.join(pki.hosts()) or 'none yet: `svcctl cluster up --hosts … --secure`'})",
        )
    ca_cert, ca_key = _load_ca(pki)
    _issue_client(who, host_registrator_cn(host), ca_cert, ca_key, pki.ca.read_bytes())
    return who


def bundle_fingerprint(directory: Path) -> str:
    """A digest of a shipped directory's files: it changes when any is re-issued, so Compose
    recreates the containers that read the old ones."""
    import hashlib

    if not directory.is_dir():
        return "none"  # nothing issued (e.g. `cluster down` after the PKI was remade elsewhere)
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def container_owner(container_uid: int) -> tuple[int, int]:
    """The uid/gid the containers that read keys run as: when svcctl runs as root, the
    unprivileged `container_uid` (Settings.container_uid, SVCCTL_CONTAINER_UID) the keys are
    handed to; otherwise the user's own (the keys stay the user's)."""
    if os.geteuid() == 0:
        return container_uid, container_uid
    return os.getuid(), os.getgid()


def hand_over(pki: Pki, container_uid: int) -> None:
    """Give the directories containers mount (read-only) to container_owner(): the members and
    registrators read their keys in place as that uid, never a copy. Nothing to do when svcctl
    does not run as root (the files are the user's already). Refused when a host account has
    that uid: it would be able to read the cluster's keys."""
    import pwd

    uid, gid = container_owner(container_uid)
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:
        account = None
    if account is not None:
        raise ConflictError(
            f"uid {uid} is the host account {account!r}: "
            "handing it the cluster's keys would let that account read them",
            "set SVCCTL_CONTAINER_UID to a uid no host account has (`getent passwd UID` prints nothing)",
        )
    for directory in pki.container_dirs():
        for path in (directory, *directory.iterdir()):
            if path.stat().st_uid != uid or path.stat().st_gid != gid:
                os.chown(path, uid, gid)


def ensure_pki(root: Path, rotate: bool = False) -> tuple[Pki, str | None]:
    """The PKI in `root` (pki_dir of the state directory); returns it and what was done (None:
    nothing). Idempotent: an existing complete PKI is left exactly as it is. An incomplete one
    whose CA is still there and valid (an older PKI: no quorum CA, no readers) gets only its
    missing parts, issued by that CA, so consumers keep their ca.pem and identities; it is made
    anew (a new CA) only when the CA itself is missing or unusable, or on `rotate`. A remade one
    re-issues the readers the old one had (new keys)."""
    pki = Pki(root)
    if pki.complete() and not rotate:
        return pki, None
    if not rotate and _usable_ca(pki):
        return pki, f"issued {_issue_missing(pki)}"
    existed = pki.root.exists()
    readers = sorted({*pki.readers(), *BUILTIN_READERS})
    staging = pki.root.with_name(pki.root.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    pki.root.parent.mkdir(parents=True, exist_ok=True)
    _make(Pki(staging), readers)
    if existed:
        old = pki.root.with_name(pki.root.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        pki.root.rename(old)
        staging.rename(pki.root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(pki.root)
    if rotate:
        return pki, "remade"
    return (
        pki,
        "remade (its CA was missing or no longer valid: give the new ca.pem to your consumers)" if existed else "made",
    )


def _usable_ca(pki: CaDirectory) -> bool:
    """The client CA is there, its key matches it, and it is valid for a while yet."""
    try:
        cert, key = _load_ca(pki)
    except (OSError, ValueError, TypeError):
        return False
    now = datetime.datetime.now(datetime.UTC)
    return (
        key.public_key().public_numbers() == cert.public_key().public_numbers()
        and cert.not_valid_after_utc > now + datetime.timedelta(days=30)
    )


def _issue_missing(pki: Pki) -> str:
    """Issue what an incomplete PKI lacks with its existing CA (a quorum CA of its own when it has
    none); returns what was issued, e.g. "the quorum CA and readers cli, gateway"."""
    ca_cert, ca_key = _load_ca(pki)
    ca_pem = pki.ca.read_bytes()
    done: list[str] = []
    if pki.quorum_ca.is_file() and pki.quorum_ca_key.is_file():
        quorum_cert, quorum_key = _load_quorum_ca(pki)
        new_quorum = False
    else:
        quorum_cert, quorum_key = _make_quorum_ca(pki)
        new_quorum = True
        done.append("the quorum CA")
    members = []
    for member in MEMBERS:
        directory = pki.member_dir(member)
        issued = False
        if not ((directory / "ca.pem").is_file() and (directory / "keystore.pem").is_file()):
            _make_member_client(pki, member, ca_cert, ca_key, ca_pem)
            issued = True
        if new_quorum or not ((directory / "quorum-ca.pem").is_file() and (directory / "quorum.pem").is_file()):
            _make_member_quorum(pki, member, quorum_cert, quorum_key)
            issued = True
        if issued:
            members.append(member)
    if members:
        done.append(f"member certificates {', '.join(members)}")
    identities = [
        (name, who, cn)
        for name, who, cn in (("admin", pki.admin, ADMIN_CN), ("registrator", pki.registrator, REGISTRATOR_CN))
        if not all(p.is_file() for p in who.files)
    ]
    for _, who, cn in identities:
        _issue_client(who, cn, ca_cert, ca_key, ca_pem)
    if identities:
        done.append(
            f"the {' and '.join(name for name, _, _ in identities)} identit{'ies' if len(identities) > 1 else 'y'}"
        )
    readers = [name for name in BUILTIN_READERS if not all(p.is_file() for p in pki.reader(name).files)]
    for name in readers:
        _issue_client(pki.reader(name), reader_cn(name), ca_cert, ca_key, ca_pem)
    if readers:
        done.append(f"readers {', '.join(readers)}")
    return " and ".join(done) if len(done) <= 2 else f"{', '.join(done[:-1])} and {done[-1]}"


def issue(pki: Pki, name: str, role: str = "reader", force: bool = False) -> ClientIdentity:
    """A client identity signed by the project's CA: for a reader, CN=svcctl-reader@NAME under
    readers/NAME/ (read rights only: the registry grants writes to the registrators alone)."""
    if role not in ROLES:
        raise BadInputError(f"unknown role {role!r}", f"use --role {' or '.join(ROLES)}")
    if not _READER_NAME.match(name):
        raise BadInputError(
            f"bad identity name {name!r}", "use letters, digits, '.', '_' or '-' (at most 63), e.g. billing-api"
        )
    if not (pki.ca.is_file() and pki.ca_key.is_file()):
        raise BadInputError(f"no PKI under {pki.root}", "make it with `svcctl cluster up --secure`")
    who = pki.reader(name)
    if who.cert.is_file() and not force:
        raise ConflictError(f"reader {name} exists ({who.cert})", "use it, or pass --force to issue it a new key")
    ca_cert, ca_key = _load_ca(pki)
    _issue_client(who, reader_cn(name), ca_cert, ca_key, pki.ca.read_bytes())
    return who


def _load_ca(pki: CaDirectory):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return (
        x509.load_pem_x509_certificate(pki.ca.read_bytes()),
        serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None),
    )


def _load_quorum_ca(pki: Pki):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return (
        x509.load_pem_x509_certificate(pki.quorum_ca.read_bytes()),
        serialization.load_pem_private_key(pki.quorum_ca_key.read_bytes(), password=None),
    )


def _make_ca(cn: str):
    from cryptography import x509

    key = _new_key()
    name = _name(cn)
    cert = (
        _builder(name, name, key, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, _hash())
    )
    return cert, key


def _make(pki: Pki, readers: list[str]) -> None:
    _mkdir(pki.root)
    ca_cert, ca_key = _make_ca(CA_CN)
    _write_secret(pki.ca_key, _key_pem(ca_key))
    ca_pem = _cert_pem(ca_cert)
    _write_public(pki.ca, ca_pem)
    quorum_cert, quorum_key = _make_quorum_ca(pki)
    for member in MEMBERS:
        _make_member_client(pki, member, ca_cert, ca_key, ca_pem)
        _make_member_quorum(pki, member, quorum_cert, quorum_key)
    for who, cn in (
        (pki.registrator, REGISTRATOR_CN),
        (pki.admin, ADMIN_CN),
        *((pki.reader(n), reader_cn(n)) for n in readers),
    ):
        _issue_client(who, cn, ca_cert, ca_key, ca_pem)


def _make_quorum_ca(pki: Pki):
    quorum_cert, quorum_key = _make_ca(QUORUM_CA_CN)
    _write_secret(pki.quorum_ca_key, _key_pem(quorum_key))
    _write_public(pki.quorum_ca, _cert_pem(quorum_cert))
    return quorum_cert, quorum_key


def _make_member_client(pki: Pki, member: str, ca_cert, ca_key, ca_pem: bytes) -> None:
    _issue_member_client(pki.member_dir(member), member, (member, *SERVER_SANS), ca_cert, ca_key, ca_pem)


def _make_member_quorum(pki: Pki, member: str, quorum_cert, quorum_key) -> None:
    _issue_member_quorum(pki.member_dir(member), member, (member,), quorum_cert, quorum_key)


def _issue_member(
    directory: Path, member: str, sans: tuple[str, ...], ca_cert, ca_key, ca_pem: bytes, quorum_cert, quorum_key
) -> None:
    _issue_member_client(directory, member, sans, ca_cert, ca_key, ca_pem)
    _issue_member_quorum(directory, member, sans, quorum_cert, quorum_key)


def _issue_member_client(directory: Path, member: str, sans: tuple[str, ...], ca_cert, ca_key, ca_pem: bytes) -> None:
    """A member's client-port certificate (naming that member only: `sans`) and the CA it trusts."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    _mkdir(directory)
    key = _new_key()
    cert = _issue(ca_cert, ca_key, member, key, [ExtendedKeyUsageOID.SERVER_AUTH], sans)
    _write_public(directory / "ca.pem", ca_pem)
    _write_secret(directory / "keystore.pem", _key_pem(key) + _cert_pem(cert))


def _issue_member_quorum(directory: Path, member: str, sans: tuple[str, ...], quorum_cert, quorum_key) -> None:
    """A member's quorum certificate and the quorum CA as its trust store."""
    from cryptography.x509.oid import ExtendedKeyUsageOID

    _mkdir(directory)
    key = _new_key()
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]  # members are quorum clients too
    cert = _issue(quorum_cert, quorum_key, member, key, both, sans)
    _write_public(directory / "quorum-ca.pem", _cert_pem(quorum_cert))
    _write_secret(directory / "quorum.pem", _key_pem(key) + _cert_pem(cert))


def _issue_client(who: ClientIdentity, cn: str, ca_cert, ca_key, ca_pem: bytes) -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    _issue_identity(who, cn, ca_cert, ca_key, ca_pem, [ExtendedKeyUsageOID.CLIENT_AUTH], ())


def _issue_identity(
    who: ClientIdentity, cn: str, ca_cert, ca_key, ca_pem: bytes, usages: list, sans: tuple[str, ...]
) -> None:
    key = _new_key()
    cert = _issue(ca_cert, ca_key, cn, key, usages, sans)
    _mkdir(who.cert.parent.parent)
    _mkdir(who.cert.parent)
    # Each file replaced whole, the key before its certificate: a reader of the old pair sees
    # the new key with the old certificate for a moment at most, never a truncated file.
    _write_public(who.ca, ca_pem)
    _write_secret(who.key, _key_pem(key))
    _write_public(who.cert, _cert_pem(cert))


def _issue(ca_cert, ca_key, cn: str, key, usages: list, sans: tuple[str, ...]):
    import ipaddress

    from cryptography import x509

    builder = (
        _builder(_name(cn), ca_cert.subject, key, CERT_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if sans:
        names: list[x509.GeneralName] = []
        for san in sans:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(san)))
            except ValueError:
                names.append(x509.DNSName(san))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, _hash())


def _builder(subject, issuer, key, days: int):
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clock skew between host and containers
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _new_key():
    # RSA: what every TLS stack here (Java's PEM reader, OpenSSL, HAProxy) takes without options.
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _hash():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def _write_secret(path: Path, data: bytes) -> None:
    """0600 from the start (never readable by others, not even for a moment), replaced whole."""
    atomic_write(path, data, KEY_MODE)


def _write_public(path: Path, data: bytes) -> None:
    atomic_write(path, data, 0o644)


# --- the simulated hosts' engines (`svcctl hosts up`): Docker's own TLS ---------------------------

ENGINE_CA_CN = "svcctl hosts engines CA"
ENGINE_CLIENT_CN = "svcctl-engine-client"


def engine_pki_dir(state: Path, project: str) -> Path:
    """The TLS material of `project`'s simulated hosts' engines (apart from the ensemble's PKI:
    `hosts down` removes it with the hosts)."""
    return state / "hosts-pki" / project


@dataclass(frozen=True)
class EnginePki(CaDirectory):
    """A CA of its own; per host engines/HOST/ what its `dockerd --tlsverify` reads (its server
    certificate naming the host and its address); client/ svcctl's identity, the one the hosts'
    Docker contexts hold. Each directory is in Docker's DOCKER_CERT_PATH layout."""

    @property
    def client_dir(self) -> Path:
        return self.root / "client"

    def server_dir(self, host: str) -> Path:
        return self.root / "engines" / host


def ensure_engine_pki(root: Path, hosts: dict[str, str]) -> tuple[EnginePki, list[str]]:
    """The engines' CA and client identity, and a server certificate for each host (name ->
    address), issued where missing or made for another address or CA. Returns the PKI and the
    hosts whose certificate is new (a running engine reads it only when it starts)."""
    import hashlib
    import json

    from cryptography.x509.oid import ExtendedKeyUsageOID

    pki = EnginePki(root)
    _mkdir(root)
    if _usable_ca(pki):
        ca_cert, ca_key = _load_ca(pki)
    else:  # a new CA: every certificate below is issued again (their markers name the old one)
        ca_cert, ca_key = _make_ca(ENGINE_CA_CN)
        _write_secret(pki.ca_key, _key_pem(ca_key))
        _write_public(pki.ca, _cert_pem(ca_cert))
    ca_pem = pki.ca.read_bytes()
    ca_id = hashlib.sha256(ca_pem).hexdigest()[:16]

    def fits(directory: Path, wanted: dict) -> bool:
        try:
            return json.loads((directory / "issued.json").read_text()) == wanted and all(
                (directory / f).is_file() for f in TLS_FILES
            )
        except (OSError, ValueError):
            return False

    def issue(directory: Path, cn: str, usage, sans: tuple[str, ...], wanted: dict) -> None:
        _issue_identity(ClientIdentity(*(directory / f for f in TLS_FILES)), cn, ca_cert, ca_key, ca_pem, [usage], sans)
        _write_public(directory / "issued.json", (json.dumps(wanted) + "\n").encode())

    client = {"cn": ENGINE_CLIENT_CN, "ca": ca_id}
    if not fits(pki.client_dir, client):
        issue(pki.client_dir, ENGINE_CLIENT_CN, ExtendedKeyUsageOID.CLIENT_AUTH, (), client)
    issued = []
    for host, address in hosts.items():
        wanted = {"cn": host, "address": address, "ca": ca_id}
        if not fits(pki.server_dir(host), wanted):
            issue(pki.server_dir(host), host, ExtendedKeyUsageOID.SERVER_AUTH, (host, address), wanted)
            issued.append(host)
    return pki, issued
