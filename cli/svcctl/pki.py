"""The project's PKI for the secured ensemble, under <project-dir>/.svcctl/pki/ (made once,
remade only on request), with Python's `cryptography`. Private keys never leave the directory and
are 0600; nothing here logs or returns a secret.

Layout (what each consumer mounts or reads):
  ca.pem, ca-key.pem              the project CA (ca.pem: what any consumer needs to trust)
  zoo1/ zoo2/ zoo3/               one per member: ca.pem, keystore.pem (key + certificate, PEM,
                                  read by ZooKeeper's PEM key store: no keystore password needed)
  registrator/                    ca.pem, cert.pem, key.pem: the registrators' identity (x509 ACL)
  admin/                          ca.pem, cert.pem, key.pem: the admin identity (x509 super user)
"""

from __future__ import annotations

import datetime
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import BadInputError

MEMBERS = ("zoo1", "zoo2", "zoo3")
REGISTRATOR_CN = "svcctl-registrator"
ADMIN_CN = "svcctl-admin"
CA_CN = "svcctl ensemble CA"
SERVER_SANS = ("localhost", "127.0.0.1")  # plus the member's own name; zoo1..zoo3 on every member
CERT_DAYS = 825
CA_DAYS = 3650
KEY_MODE = 0o600
DIR_MODE = 0o700


def pki_dir(project_dir: Path) -> Path:
    return project_dir / ".svcctl" / "pki"


@dataclass(frozen=True)
class ClientIdentity:
    """A client's certificate and key plus the CA it trusts."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca-key.pem"

    def member_dir(self, member: str) -> Path:
        return self.root / member

    def client(self, name: str) -> ClientIdentity:
        return ClientIdentity(self.root / name / "ca.pem", self.root / name / "cert.pem", self.root / name / "key.pem")

    @property
    def admin(self) -> ClientIdentity:
        return self.client("admin")

    @property
    def registrator(self) -> ClientIdentity:
        return self.client("registrator")

    def complete(self) -> bool:
        needed = [self.ca, self.ca_key, *(self.member_dir(m) / f for m in MEMBERS for f in ("ca.pem", "keystore.pem"))]
        needed += [p for who in (self.admin, self.registrator) for p in (who.ca, who.cert, who.key)]
        return all(p.is_file() for p in needed)

    def fingerprint(self) -> str:
        """A short digest of the CA certificate ("none" without one): it changes with --rotate."""
        import hashlib

        try:
            return hashlib.sha256(self.ca.read_bytes()).hexdigest()[:16]
        except OSError:
            return "none"

    def secret_files(self) -> list[Path]:
        """Every file holding a private key: must be 0600."""
        return [self.ca_key, *(self.member_dir(m) / "keystore.pem" for m in MEMBERS), self.admin.key, self.registrator.key]


def ensure_pki(project_dir: Path, rotate: bool = False) -> tuple[Pki, bool]:
    """The project's PKI, made when missing (or incomplete) or when `rotate`; returns it and
    whether it was (re)made. Idempotent: an existing complete PKI is left exactly as it is."""
    pki = Pki(pki_dir(project_dir))
    if pki.complete() and not rotate:
        return pki, False
    staging = pki.root.with_name("pki.new")
    shutil.rmtree(staging, ignore_errors=True)
    _make(Pki(staging))
    if pki.root.exists():
        old = pki.root.with_name("pki.old")
        shutil.rmtree(old, ignore_errors=True)
        pki.root.rename(old)
        staging.rename(pki.root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(pki.root)
    return pki, True


def _make(pki: Pki) -> None:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    _mkdir(pki.root)
    ca_key = _new_key()
    ca_name = _name(CA_CN)
    ca_cert = (
        _builder(ca_name, ca_name, ca_key, CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, _hash())
    )
    _write_secret(pki.ca_key, _key_pem(ca_key))
    ca_pem = _cert_pem(ca_cert)
    _write_public(pki.ca, ca_pem)
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]  # members are quorum clients too
    for member in MEMBERS:
        key = _new_key()
        sans = (*MEMBERS, *SERVER_SANS)
        cert = _issue(ca_cert, ca_key, member, key, both, sans)
        _mkdir(pki.member_dir(member))
        _write_public(pki.member_dir(member) / "ca.pem", ca_pem)
        _write_secret(pki.member_dir(member) / "keystore.pem", _key_pem(key) + _cert_pem(cert))
    for who, cn in ((pki.registrator, REGISTRATOR_CN), (pki.admin, ADMIN_CN)):
        key = _new_key()
        cert = _issue(ca_cert, ca_key, cn, key, [ExtendedKeyUsageOID.CLIENT_AUTH], ())
        _mkdir(who.cert.parent)
        _write_public(who.ca, ca_pem)
        _write_public(who.cert, _cert_pem(cert))
        _write_secret(who.key, _key_pem(key))


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

    now = datetime.datetime.now(datetime.timezone.utc)
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

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _mkdir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def _write_secret(path: Path, data: bytes) -> None:
    """Created 0600 from the start: never readable by others, not even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, KEY_MODE)


def _write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o644)


# --- reading certificates (clients) ----------------------------------------------------------------


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
        raise BadInputError(f"{option} {path}: cannot read the certificate ({exc.strerror or exc})", f"give an existing PEM certificate to {option}") from None
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise BadInputError(f"{option} {path} is not a PEM certificate", f"give a PEM certificate (-----BEGIN CERTIFICATE-----) to {option}") from None
    return CertInfo(cert.subject.rfc4514_string(), cert.not_valid_after_utc)
