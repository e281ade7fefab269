import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from eod_pipeline.warehouse import embedded
from eod_pipeline.warehouse.embedded import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    find_server_binaries,
    package_library_dir,
    preloads_timescaledb,
    timescaledb_installed,
)


def _library_installed() -> bool:
    try:
        return timescaledb_installed(find_server_binaries())
    except EmbeddedPostgresError:
        return False


@pytest.fixture
def home() -> Iterator[Path]:
    """A cluster directory of the test's own (readable by the `postgres` user)."""
    path = Path(tempfile.mkdtemp(prefix="eod-embedded-"))
    os.chmod(path, 0o755)
    yield path
    EmbeddedPostgres(path).stop()
    shutil.rmtree(path, ignore_errors=True)


def _setting(url: str, name: str) -> str:
    with psycopg.connect(url) as conn:
        return str(conn.execute(f"SHOW {name}").fetchone()[0])


def _start(home: str, out: multiprocessing.Queue) -> None:
    out.put(EmbeddedPostgres(Path(home)).ensure_running())


def test_several_processes_asking_at_once_share_one_cluster():
    home = Path(tempfile.mkdtemp(prefix="eod-embedded-"))
    os.chmod(home, 0o755)
    try:
        out: multiprocessing.Queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_start, args=(str(home), out)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        urls = {out.get(timeout=5) for _ in procs}
        assert len(urls) == 1
        url = urls.pop()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("eod",)
        # Where the library is installed, the cluster preloads it, telemetry off.
        preloaded = preloads_timescaledb(_setting(url, "shared_preload_libraries"))
        assert preloaded is _library_installed()
        if preloaded:
            assert _setting(url, "timescaledb.telemetry_level") == "off"
        # Reused afterwards: a later call returns the same running server.
        assert EmbeddedPostgres(home).ensure_running() == url
    finally:
        EmbeddedPostgres(home).stop()
        shutil.rmtree(home, ignore_errors=True)


def test_missing_binaries_error_says_what_to_install_or_set(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("EOD_PG_BIN", raising=False)
    monkeypatch.setattr(embedded, "_DEBIAN_BIN_GLOB", str(tmp_path / "none" / "*"))
    with pytest.raises(EmbeddedPostgresError) as err:
        embedded.find_server_binaries()
    assert "apt-get install postgresql" in str(err.value)
    assert "EOD_DATABASE_URL" in str(err.value)


@pytest.mark.parametrize(("setting", "expected"), [
    ("timescaledb", True),
    ("pg_stat_statements, timescaledb", True),
    (' "timescaledb" ,auto_explain', True),
    ("", False),
    ("timescaledb_toolkit", False),
    ("pg_stat_statements", False),
])
def test_reading_shared_preload_libraries(setting: str, expected: bool):
    assert preloads_timescaledb(setting) is expected


def test_library_dir_without_pg_config_is_beside_bin(tmp_path: Path):
    (tmp_path / "bin").mkdir()
    assert package_library_dir(tmp_path / "bin") == tmp_path / "lib"


@pytest.mark.timescaledb
def test_a_running_cluster_without_the_preload_is_restarted_to_get_it(home: Path, caplog):
    if not _library_installed():
        pytest.skip("timescaledb is not installed for these server binaries")
    url = EmbeddedPostgres(home, preload_timescaledb=False).ensure_running()
    assert not preloads_timescaledb(_setting(url, "shared_preload_libraries"))
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE kept (x integer)")
        conn.execute("INSERT INTO kept VALUES (42)")
        conn.commit()

    caplog.set_level(logging.INFO, logger="eod_pipeline.warehouse.embedded")
    assert EmbeddedPostgres(home).ensure_running() == url
    restarts = [r.getMessage() for r in caplog.records if "Restarting" in r.getMessage()]
    assert len(restarts) == 1 and "to preload timescaledb" in restarts[0]

    assert preloads_timescaledb(_setting(url, "shared_preload_libraries"))
    assert _setting(url, "timescaledb.telemetry_level") == "off"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]
        conn.execute("CREATE EXTENSION timescaledb")  # now possible (it was FATAL before)
        conn.commit()
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    # Once it has the preload, asking again reuses the server as it is.
    caplog.clear()
    assert EmbeddedPostgres(home).ensure_running() == url
    assert not [r for r in caplog.records if "Restarting" in r.getMessage()]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0] == started
