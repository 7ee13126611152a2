from svcctl.toolkit.doctor import Check, slim_rootfs


def test_slim_rootfs_drops_caches_and_installs_apt_clean_hook(tmp_path):
    archives = tmp_path / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    (archives / "libc6.deb").write_bytes(b"x")
    lists = tmp_path / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    (lists / "deb.debian.org_dists_bookworm_InRelease").write_text("x")
    (tmp_path / "etc/apt/apt.conf.d").mkdir(parents=True)
    slim_rootfs(tmp_path)
    assert list(archives.iterdir()) == [archives / "partial"]
    assert list(lists.iterdir()) == [lists / "partial"]
    conf = (tmp_path / "etc/apt/apt.conf.d/docker-clean").read_text()
    assert "rm -f /var/cache/apt/archives/*.deb" in conf
    # Scoped to the apt-get binary, Dir::Cache would be blanked and every install would fail.
    assert 'Dir::Cache::pkgcache "";' in conf and "Binary::" not in conf


def test_check_status_words():
    assert Check("engine", True, "").status == "OK"
    assert Check("engine", True, "", fixed=True).status == "FIXED"
    assert Check("engine", False, "").status == "FAIL"
    assert Check("zookeeper", False, "", required=False).status == "WARN"


def test_doctor_checks_a_named_projects_own_members_and_its_fixes_name_the_project(monkeypatch):
    from svcctl.config.settings import Settings, project_zk_ports
    from svcctl.toolkit import doctor
    from svcctl.zk import fourletter

    asked = []

    def answers_ruok(host, port, tls=None):
        asked.append(port)
        return True  # open: plain text answers

    monkeypatch.setattr(fourletter, "answers_ruok", answers_ruok)
    settings = Settings.from_environ({"SVCCTL_PROJECT": "other"})
    zookeeper = doctor.check_zookeeper(settings.zk_hosts, None, settings.command("cluster up"))
    security = doctor.check_security(settings.zk_hosts, zookeeper, doctor.secure_restart(settings))
    assert set(asked) == set(project_zk_ports("other"))
    assert zookeeper.ok and zookeeper.fix == "svcctl --project other cluster up"
    assert security.fix == "svcctl --project other cluster down --volumes && svcctl --project other cluster up --secure"
