"""`svcctl ui` as a user sees it, in Debian's headless Chromium (not a test: it prints numbers
and the targets beside them).

1. First paint: `--loads` (default 5) fresh loads of the page; per load the browser's
   first-contentful-paint and the time until the first snapshot is drawn (the page's tables
   filled from the server-sent events), both from navigation start.
2. Update latency: `--changes` (default 20) registrations created and deleted straight in
   ZooKeeper (ephemeral nodes of a service of the bench's own); per change the time from the
   write's answer to the page's row appearing (a MutationObserver in the page stamps it; the
   browser and this process share the clock) and disappearing.

Targets: first paint < 1 s; an update on the page within 1 s of the ZooKeeper change.

Usage: SVCCTL_PROJECT=... SVCCTL_ZK_PORTS=... SVCCTL_ZK=... python bench/ui.py [--loads 5] [--changes 20]
       (a running `svcctl cluster up` of that project; chromium and chromedriver installed)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.registration import percentile  # noqa: E402
from svcctl.net import answers_ok  # noqa: E402

TARGET_FIRST_PAINT_MS = 1000.0
TARGET_UPDATE_MS = 1000.0
SERVICE = "ui_bench"
OBSERVER = """
window.benchSeen = {}; window.benchGone = {};
const body = document.querySelector('#instances tbody');
new MutationObserver(() => {
  const now = Date.now() / 1000, present = new Set();
  for (const row of body.querySelectorAll('tr')) present.add(row.dataset.service + '/' + row.dataset.address);
  for (const key of present) if (!(key in window.benchSeen)) window.benchSeen[key] = now;
  for (const key of Object.keys(window.benchSeen))
    if (!present.has(key) && !(key in window.benchGone)) window.benchGone[key] = now;
}).observe(body, {childList: true, subtree: true});
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1100")
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)


def wait(condition, timeout: float = 30.0, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit("timed out: is the cluster up and the page answering?")


def first_paint(driver, url: str, loads: int) -> None:
    paints, drawn = [], []
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(url)
        wait(lambda: driver.execute_script("return window.svcctlSnapshot !== null"))
        paint, snapshot = driver.execute_script(
            "const p = performance.getEntriesByName('first-contentful-paint')[0];"
            "const start = performance.timeOrigin;"
            "return [p ? p.startTime : null, window.svcctlDrawnAt - start];"
        )
        if paint is not None:
            paints.append(paint)
        drawn.append(snapshot)
    print(f"first contentful paint: p50 {percentile(paints, 50):.0f} ms, max {max(paints):.0f} ms", end="")
    print(f"  (target < {TARGET_FIRST_PAINT_MS:.0f} ms)")
    print(f"first snapshot drawn:   p50 {percentile(drawn, 50):.0f} ms, max {max(drawn):.0f} ms")


def updates(driver, url: str, changes: int) -> None:
    from svcctl.config.settings import Settings
    from svcctl.registry.model import Registration
    from svcctl.registry.payload import RegistrationPayload
    from svcctl.security.mode import client_tls
    from svcctl.zk.client import make_client, start_client

    settings = Settings.from_environ(os.environ)
    tls = client_tls(settings, identity="admin")  # a secured cluster: writes need the admin identity
    zk = make_client(settings.zk_hosts, tls=tls)
    start_client(zk, settings.zk_hosts, connect_timeout=10, tls=tls)
    driver.get(url)
    wait(lambda: driver.execute_script("return window.svcctlSnapshot !== null"))
    driver.execute_script(OBSERVER)
    added, removed = [], []
    try:
        for n in range(changes):
            port = 40000 + n
            cid = f"{n:012d}" + "b" * 52
            reg = Registration(SERVICE, "127.0.0.1", port, 80, "tcp", cid, cid[:12], f"ui-bench-{n}")
            path = f"/services/{SERVICE}/127.0.0.1:{port}"
            key = f"{SERVICE}/127.0.0.1:{port}"
            data = RegistrationPayload.of(reg, None, "bench", time.time()).encode()
            zk.create(path, data, ephemeral=True, makepath=True)
            written = time.time()
            seen = wait(lambda key=key: driver.execute_script("return window.benchSeen[arguments[0]]", key))
            added.append((seen - written) * 1000)
            zk.delete(path)
            deleted = time.time()
            gone = wait(lambda key=key: driver.execute_script("return window.benchGone[arguments[0]]", key))
            removed.append((gone - deleted) * 1000)
    finally:
        for child in zk.get_children(f"/services/{SERVICE}") if zk.exists(f"/services/{SERVICE}") else []:
            zk.delete(f"/services/{SERVICE}/{child}")
        if zk.exists(f"/services/{SERVICE}"):
            zk.delete(f"/services/{SERVICE}")
        zk.stop()
        zk.close()
    for label, values in (("registration → row on the page", added), ("deletion → row gone", removed)):
        print(
            f"{label}: p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms, "
            f"max {max(values):.0f} ms  (target < {TARGET_UPDATE_MS:.0f} ms, {len(values)} changes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    svcctl = str(Path(sys.executable).with_name("svcctl"))
    proc = subprocess.Popen([svcctl, "ui", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = None
    try:
        wait(lambda: answers_ok(f"{url}api/state") or proc.poll() is not None, timeout=60, interval=0.1)
        if proc.poll() is not None:
            raise SystemExit(f"svcctl ui exited {proc.returncode}")
        driver = browser()
        first_paint(driver, url, args.loads)
        updates(driver, url, args.changes)
    finally:
        if driver is not None:
            driver.quit()
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
