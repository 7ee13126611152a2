"""ZooKeeper's four-letter words over a raw socket (no client session needed), and parsers."""

from __future__ import annotations

import socket
import ssl
from dataclasses import asdict, dataclass

NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
# The ServerStats modes of a member that answers clients.
SERVING_MODES = ("leader", "follower", "standalone", "observer")


def four_letter_word(host: str, port: int, word: str, timeout: float = 2.0, tls: ssl.SSLContext | None = None) -> str:
    """Send `word` (e.g. srvr, mntr, ruok) and return the whole answer; over TLS with `tls` (a
    secured member's client port). Raises OSError (ssl.SSLError is one)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    if tls is not None:
        try:
            sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    with sock:
        sock.sendall(word.encode("ascii"))
        chunks: list[bytes] = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError):  # ZooKeeper closes without close_notify
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def answers_ruok(host: str, port: int, timeout: float = 1.0, tls: ssl.SSLContext | None = None) -> bool:
    """Is a member listening there and well (`ruok` → `imok`)? Any socket or TLS failure is a no."""
    try:
        return four_letter_word(host, port, "ruok", timeout=timeout, tls=tls).strip() == "imok"
    except OSError:
        return False


@dataclass
class ServerStats:
    """One member's state as `srvr` and `mntr` report it; `mode` is leader, follower,
    standalone, observer, not-serving, down or unknown (srvr not allowed)."""

    mode: str = "down"
    version: str | None = None
    zxid: str | None = None
    connections: int | None = None
    latency_avg: float | None = None
    latency_max: int | None = None
    znode_count: int | None = None
    outstanding: int | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def parse_srvr(text: str) -> ServerStats:
    stats = ServerStats()
    if NOT_SERVING in text:
        stats.mode = "not-serving"
        return stats
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "Zookeeper version":
            stats.version = value.split(",")[0].split("-")[0]
        elif key == "Latency min/avg/max":
            parts = value.split("/")
            if len(parts) == 3:
                stats.latency_avg = float(parts[1])
                stats.latency_max = int(float(parts[2]))
        elif key == "Connections":
            stats.connections = int(value)
        elif key == "Outstanding":
            stats.outstanding = int(value)
        elif key == "Zxid":
            stats.zxid = value
        elif key == "Mode":
            stats.mode = value
        elif key == "Node count":
            stats.znode_count = int(value)
    return stats


def parse_mntr(text: str) -> dict[str, str]:
    """`mntr` answers `key<TAB>value` lines; returns them as strings."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            values[key.strip()] = value.strip()
    return values


def merge_mntr(stats: ServerStats, mntr: dict[str, str]) -> ServerStats:
    """mntr is richer than srvr (live connections, latency since reset); prefer it where present."""
    if "zk_server_state" in mntr:
        stats.mode = mntr["zk_server_state"]
    if "zk_num_alive_connections" in mntr:
        stats.connections = int(mntr["zk_num_alive_connections"])
    if "zk_avg_latency" in mntr:
        stats.latency_avg = float(mntr["zk_avg_latency"])
    if "zk_max_latency" in mntr:
        stats.latency_max = int(float(mntr["zk_max_latency"]))
    if "zk_znode_count" in mntr:
        stats.znode_count = int(mntr["zk_znode_count"])
    return stats


def server_stats(
    host: str, port: int, timeout: float = 2.0, with_mntr: bool = True, tls: ssl.SSLContext | None = None
) -> ServerStats:
    """srvr (+ mntr when serving) for one member; never raises: an unreachable member is `down`,
    one that answers but does not allow srvr is `unknown`. `tls`: a secured member's client port."""
    try:
        answer = four_letter_word(host, port, "srvr", timeout, tls)
        if "not in the whitelist" in answer or "not executed" in answer:
            return ServerStats(mode="unknown", error=answer.strip())
        stats = parse_srvr(answer)
    except OSError as exc:
        return ServerStats(mode="down", error=str(exc) or type(exc).__name__)
    except ValueError as exc:
        return ServerStats(mode="down", error=f"unparsable srvr answer: {exc}")
    if with_mntr and stats.mode not in ("down", "not-serving"):
        try:
            merge_mntr(stats, parse_mntr(four_letter_word(host, port, "mntr", timeout, tls)))
        except (OSError, ValueError):
            pass  # srvr already told the essentials
    return stats
