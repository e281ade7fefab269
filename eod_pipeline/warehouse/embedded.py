"""An embedded PostgreSQL cluster the project starts itself, so nothing needs installing.

When `EOD_DATABASE_URL` is unset the pipeline keeps its warehouse in a cluster under the
project data directory (`EOD_HOME`, default `./.eod_pipeline`), made with the machine's own
PostgreSQL binaries on first use and reused afterwards. The server outlives the process
that started it (the next `dagster` step, CLI call or test reuses it); `eod-pipeline db
stop` ends it.

Why a file lock: the Dagster webserver, daemon and every run worker may all ask for the
warehouse at once on a fresh machine; exactly one of them may run `initdb`/`pg_ctl start`,
the others wait and then connect to the same server.

PostgreSQL refuses to run as root, so when we are root the server commands run as the
`postgres` system user (`runuser -u postgres`), in a data directory that user owns.

TimescaleDB: when the server binaries' installation has the timescaledb library, the
cluster is started with `shared_preload_libraries=timescaledb` (without the preload,
`CREATE EXTENSION timescaledb` is FATAL), so the quickstart gets hypertables and the
columnstore as production does. A running cluster started without it (made by an older
version, or before the library was installed) is restarted once to pick it up. Whether
a warehouse then *uses* TimescaleDB is its recorded storage mode (`migrations.py`).
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from eod_pipeline.settings import warehouse_env

log = logging.getLogger(__name__)

#: Names of the server binaries we need, all from the same installation.
_SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
#: Where Debian/Ubuntu packages put versioned server binaries (not on PATH by default).
_DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: The database and role the pipeline uses inside the embedded cluster.
EMBEDDED_DATABASE = "eod"
EMBEDDED_USER = "eod"
#: Seconds to wait for `pg_ctl start`; a first start on a slow disk takes a few seconds.
_START_TIMEOUT_S = 60
#: System user that owns the cluster when we run as root (PostgreSQL refuses root).
_SERVER_OS_USER = "postgres"
#: The library a server must preload before `CREATE EXTENSION timescaledb` can work.
TIMESCALEDB_LIBRARY = "timescaledb"
#: Background worker processes when TimescaleDB is preloaded. PostgreSQL's default (8) is
#: shared by parallel query workers (default 8) and TimescaleDB's launcher (1) plus up to
#: `timescaledb.max_background_workers` (default 16) schedulers and policy jobs, one
#: scheduler per database with the extension; TimescaleDB's tuning guide sums them.
_TIMESCALEDB_WORKER_PROCESSES = 8 + 1 + 16

INSTALL_HINT = (
    "No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found on PATH, in "
    f"{_DEBIAN_BIN_GLOB} or in EOD_PG_BIN. Either install PostgreSQL "
    "(Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`) "
    "so the pipeline can start its embedded warehouse, or set EOD_DATABASE_URL to an "
    "existing PostgreSQL/TimescaleDB database, e.g. "
    "postgresql://user:password@host:5432/eod"
)


class EmbeddedPostgresError(RuntimeError):
    """The embedded cluster could not be found, created or started."""


def find_server_binaries() -> Path:
    """Return the directory holding initdb, pg_ctl and postgres, or raise with a hint.

    Order: `EOD_PG_BIN`, PATH, then the newest Debian versioned directory.
    """
    candidates: list[Path] = []
    if env_dir := warehouse_env().pg_bin:
        candidates.append(Path(env_dir))
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)
    candidates.extend(
        Path(p) for p in sorted(glob.glob(_DEBIAN_BIN_GLOB), key=_version_key, reverse=True)
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in _SERVER_BINARIES):
            return directory
    raise EmbeddedPostgresError(INSTALL_HINT)


def _version_key(path: str) -> float:
    try:
        return float(Path(path).parent.name)
    except ValueError:
        return 0.0


def package_library_dir(bin_dir: Path) -> Path:
    """The installation's library directory (`pg_config --pkglibdir`), for extensions.

    Asks the `pg_config` of the same bin directory, so a machine with several PostgreSQL
    versions answers for the one we start; without one, `bin/../lib` (Debian's layout).
    """
    pg_config = bin_dir / "pg_config"
    if pg_config.is_file():
        done = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True,
                              text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    return bin_dir.parent / "lib"


def timescaledb_installed(bin_dir: Path) -> bool:
    """Whether the server binaries in `bin_dir` can load the timescaledb library."""
    return (package_library_dir(bin_dir) / f"{TIMESCALEDB_LIBRARY}.so").is_file()


def preloads_timescaledb(setting: str) -> bool:
    """Whether a `shared_preload_libraries` value names timescaledb (comma list, spaces
    and quotes allowed, as postgresql.conf writes it)."""
    return TIMESCALEDB_LIBRARY in {part.strip().strip('"') for part in setting.split(",")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A PostgreSQL cluster living in `home/postgres`, listening on 127.0.0.1.

    The chosen port is written to `home/postgres.port` at creation so every later process
    finds the same server.

    `preload_timescaledb=False` starts it without the preload even where the library is
    installed, and never restarts it for it: the test suite's plain-PostgreSQL cluster,
    i.e. a server as TimescaleDB's packages leave it.
    """

    home: Path
    preload_timescaledb: bool = True

    @property
    def data_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def _port_file(self) -> Path:
        return self.home / "postgres.port"

    @property
    def _log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def _run_as_other_user(self) -> bool:
        return os.geteuid() == 0

    def url(self) -> str:
        port = int(self._port_file.read_text().strip())
        return f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/{EMBEDDED_DATABASE}"

    def running_url(self) -> str | None:
        """The URL if this cluster exists and a server answers on it; None otherwise.
        Never starts anything."""
        if not self._port_file.exists():
            return None
        try:
            return self.url() if self._running_preloads() is not None else None
        except (OSError, ValueError):
            return None

    def ensure_running(self) -> str:
        """Create and start the cluster if needed; return its connection URL.

        Safe to call from many processes at once: the work happens under an exclusive
        file lock, and a running server is detected by connecting to it.

        A running server that lacks the timescaledb preload while the library is installed
        is restarted (fast shutdown: sessions of other processes end) to pick it up.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            preloads = self._running_preloads() if self._port_file.exists() else None
            if preloads is not None:
                if not self.preload_timescaledb or preloads_timescaledb(preloads):
                    return self.url()
                bin_dir = find_server_binaries()
                if not timescaledb_installed(bin_dir):
                    return self.url()
                log.warning(
                    "Restarting the embedded PostgreSQL server in %s to preload timescaledb "
                    "(installed in %s, not preloaded by the running server); open sessions "
                    "are ended", self.data_dir, package_library_dir(bin_dir))
                self._stop(bin_dir)
                self._start(bin_dir)
                return self.url()
            bin_dir = find_server_binaries()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(bin_dir)
            self._start(bin_dir)
            self._create_database()
            return self.url()

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown: open sessions are ended)."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        self._stop(find_server_binaries())

    def _stop(self, bin_dir: Path) -> None:
        self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w",
                   "stop"])

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.home / "postgres.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _running_preloads(self) -> str | None:
        """The running server's `shared_preload_libraries`, or None if none answers."""
        try:
            with psycopg.connect(self.url(), connect_timeout=3) as conn:
                row = conn.execute("SHOW shared_preload_libraries").fetchone()
                return str(row[0]) if row else ""
        except psycopg.Error:
            return None

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        if self._run_as_other_user:
            argv = ["runuser", "-u", _SERVER_OS_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(argv[-1] if argv[0] != 'runuser' else argv[4]).name} failed "
                f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}"
            )
        return done

    def _hand_to_server_user(self, path: Path) -> None:
        if self._run_as_other_user:
            try:
                pw = pwd.getpwnam(_SERVER_OS_USER)
            except KeyError:
                raise EmbeddedPostgresError(
                    "Running as root, but there is no `postgres` system user to run the "
                    "embedded PostgreSQL server (it refuses root). Create one "
                    "(`useradd --system postgres`) or set EOD_DATABASE_URL."
                ) from None
            os.chown(path, pw.pw_uid, pw.pw_gid)
            # The server user must be able to reach its data directory.
            for parent in path.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
                if parent == Path("/"):
                    break

    def _initdb(self, bin_dir: Path) -> None:
        log.info("Creating the embedded PostgreSQL cluster in %s", self.data_dir)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self._hand_to_server_user(self.data_dir)
        self._log_file.touch()
        self._hand_to_server_user(self._log_file)
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D", str(self.data_dir),
                "-U", EMBEDDED_USER,
                "-A", "trust",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        self._port_file.write_text(f"{_free_port()}\n")

    def _start(self, bin_dir: Path) -> None:
        if not self._port_file.exists():
            self._port_file.write_text(f"{_free_port()}\n")
        port = int(self._port_file.read_text().strip())
        # Sockets in the data directory: /var/run/postgresql may not exist or be writable.
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {self.data_dir} "
            # Loads are bulk COPYs of re-fetchable data; these settings are the usual
            # ones for a local analytics server and can be changed in postgresql.conf.
            "-c max_wal_size=4GB -c shared_buffers=512MB -c max_connections=200"
        )
        if self.preload_timescaledb and timescaledb_installed(bin_dir):
            # As options, not in postgresql.conf: every start by this code gets them, and
            # `pg_ctl restart` reuses them (postmaster.opts). Telemetry off: the embedded
            # warehouse must not phone home.
            options += (
                f" -c shared_preload_libraries={TIMESCALEDB_LIBRARY}"
                " -c timescaledb.telemetry_level=off"
                f" -c max_worker_processes={_TIMESCALEDB_WORKER_PROCESSES}"
            )
        log.info("Starting the embedded PostgreSQL server on 127.0.0.1:%d", port)
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D", str(self.data_dir),
                "-l", str(self._log_file),
                "-o", options,
                "-w", "-t", str(_START_TIMEOUT_S),
                "start",
            ]
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._accepts_admin_connection(port):
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(
                    f"The embedded PostgreSQL server did not accept connections on port "
                    f"{port}; see {self._log_file}"
                )
            time.sleep(0.2)

    def _accepts_admin_connection(self, port: int) -> bool:
        try:
            with psycopg.connect(
                f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/postgres", connect_timeout=3
            ):
                return True
        except psycopg.Error:
            return False

    def _create_database(self) -> None:
        port = int(self._port_file.read_text().strip())
        admin = f"postgresql://{EMBEDDED_USER}@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (EMBEDDED_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{EMBEDDED_DATABASE}"')


def default_home() -> Path:
    """The project data directory: `EOD_HOME`, else `.eod_pipeline` in the working dir."""
    return Path(warehouse_env().home or Path.cwd() / ".eod_pipeline").absolute()
