import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from eod_pipeline.warehouse import embedded
from eod_pipeline.warehouse.embedded import EmbeddedPostgres, EmbeddedPostgresError


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
