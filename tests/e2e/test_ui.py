"""`svcctl ui` in a real headless Chromium (Debian's, driven by Debian's chromedriver through
selenium: nothing downloaded), against the test project's real cluster, registrators, gateway
and instances: the page shows what ZooKeeper holds, follows a scale done by another process
without reloading, and shows a registrator handover triggered from the page itself. The run
saves docs/ui.png (the README's screenshot)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.test_consumer_registrator import mine
from tests.support import (
    GATEWAY_PORT,
    GATEWAY_STATS_PORT,
    IN_CI,
    LOADED_MACHINE_SLACK_S,
    ROOT,
    TEST_PROJECT,
    run_svcctl,
    stable_port_pair,
    svcctl_server,
    wait_for,
)

UI_PORT = stable_port_pair(f"{TEST_PROJECT}-ui", 4000, 1000)
URL = f"http://127.0.0.1:{UI_PORT}/"
UPDATE_BOUND_S = 2.0  # a ZooKeeper change reaches the open page within this (bench/ui.py measures it)
SCREENSHOT = ROOT / "docs" / "ui.png"


@pytest.fixture(scope="module")
def ui(cluster):
    run_svcctl("gateway", "up", "--port", str(GATEWAY_PORT), "--stats-port", str(GATEWAY_STATS_PORT), timeout=300)
    try:
        with svcctl_server(["ui", "--port", str(UI_PORT)], f"{URL}api/state"):
            yield URL
    finally:
        run_svcctl("gateway", "down", check=False)


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "no chromium/chromedriver: run `svcctl doctor --fix` (apt-get install chromium chromium-driver)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1100")
    # The driver's path given: selenium's manager never looks for (or downloads) one.
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def page_instances(browser) -> set[str]:
    return set(
        browser.execute_script(
            "return [...document.querySelectorAll('#instances tbody tr')]"
            ".map(r => r.dataset.service + '/' + r.dataset.address)"
        )
    )


def zk_instances(zk) -> set[str]:
    from kazoo.exceptions import NoNodeError

    found = set()
    for service in zk.get_children("/services"):
        try:
            found |= {f"{service}/{node}" for node in zk.get_children(f"/services/{service}")}
        except NoNodeError:
            pass
    return found


def haproxy_states(browser, service: str) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll(`#instances tbody tr[data-service='${arguments[0]}'] td.haproxy`)]"
        ".map(td => td.textContent)",
        service,
    )


def rows(browser, table: str) -> list[dict]:
    return browser.execute_script(
        f"return [...document.querySelectorAll('#{table} tbody tr')].map(r => Object.assign({{}}, r.dataset))"
    )


def active_registrator(browser) -> str | None:
    active = [r["registrator"] for r in rows(browser, "registrators") if r["role"] == "active"]
    return active[0] if len(active) == 1 else None


def test_the_page_shows_zookeeper_and_follows_a_scale_without_reloading(ui, browser, zk, services):
    run_svcctl("up", "service_2")
    wait_for(lambda: len(mine(zk, "service_2")) == 1, "one service_2 instance registered")
    browser.get(ui)
    load_id = browser.execute_script("return window.svcctlLoadId")
    wait_for(
        lambda: page_instances(browser) == zk_instances(zk) and len(page_instances(browser)) >= 1,
        "the page's instances == ZooKeeper's",
        timeout=30,
    )
    # The ensemble: three members, one leader; one active registrator of the engine.
    members = rows(browser, "ensemble")
    assert len(members) == 3 and sorted(m["mode"] for m in members) == ["follower", "follower", "leader"]
    assert active_registrator(browser) is not None

    # Another process scales; the open page follows ZooKeeper by itself.
    before = zk_instances(zk)
    scaler = threading.Thread(target=run_svcctl, args=("scale", "service_2", "2"), daemon=True)
    scaler.start()
    wait_for(
        lambda: zk_instances(zk) - before, "the second service_2 instance in ZooKeeper", timeout=120, interval=0.02
    )
    in_zk = time.monotonic()
    added = zk_instances(zk) - before
    wait_for(lambda: added <= page_instances(browser), "the new instance on the page", timeout=30, interval=0.02)
    seen_after = time.monotonic() - in_zk
    assert seen_after <= UPDATE_BOUND_S + LOADED_MACHINE_SLACK_S, f"the page showed it {seen_after:.2f}s later"
    scaler.join(timeout=300)
    wait_for(lambda: page_instances(browser) == zk_instances(zk), "the page's instances == ZooKeeper's", timeout=30)
    assert browser.execute_script("return window.svcctlLoadId") == load_id, "the page was reloaded"
    # Docker's side: the project's two instances, both registered (no difference highlighted).
    wait_for(
        lambda: sorted(r["registered"] for r in rows(browser, "docker")) == ["yes", "yes"],
        "Docker's side: two registered instances",
        timeout=30,
    )
    # The gateway runs: each service_2 instance has its HAProxy state.
    wait_for(
        lambda: (states := haproxy_states(browser, "service_2")) and set(states) == {"UP"},
        "HAProxy's state UP for every service_2 instance",
        timeout=60,
    )


def test_a_registrator_handover_triggered_from_the_page(ui, browser, zk, services):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    if browser.current_url != ui:
        browser.get(ui)
    first = wait_for(lambda: active_registrator(browser), "an active registrator on the page", timeout=30)
    load_id = browser.execute_script("return window.svcctlLoadId")
    wait_for(
        lambda: (
            "registrator-handover"
            in [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#scenario-name option")]
        ),
        "the scenarios listed",
        timeout=10,
    )
    Select(browser.find_element(By.ID, "scenario-name")).select_by_value("registrator-handover")
    browser.find_element(By.ID, "scenario-button").click()
    status = browser.find_element(By.ID, "action-status")
    wait_for(lambda: "registrator-handover" in (status.get_attribute("data-running") or ""), "the scenario running")
    # The handover, as it happens: another registrator becomes the active one.
    wait_for(
        lambda: (active_registrator(browser) or first) != first,
        f"another registrator than {first} active on the page",
        timeout=120,
        interval=0.2,
    )
    events = [e for e in rows(browser, "events") if e["source"] == "registrator"]
    assert events, "no registrator event in the page's stream"
    last = wait_for(
        lambda: status.get_attribute("data-last") if not status.get_attribute("data-running") else None,
        "the scenario finished",
        timeout=300,
        interval=0.5,
    )
    assert last == "scenario registrator-handover|true", f"the scenario failed: {status.text}"
    assert browser.execute_script("return window.svcctlLoadId") == load_id, "the page was reloaded"
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert Path(SCREENSHOT).stat().st_size > 10_000
