"""Shared fixtures: a data directory and a contacts.yaml in tmp_path, and real Dagster runs against them."""

from __future__ import annotations

import os

# The test workers share two cores: one DuckDB and polars thread each, instead of one per core each, so
# that the workers do not fight over the cores. Set before polars is first imported.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("CONTACTS_DUCKDB_THREADS", "1")
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.as_of import AS_OF_TAG
from pipelines.definitions import REFRESH_JOB, build_definitions
from pipelines.settings import PROJECT_ROOT, Paths

CORPORA = PROJECT_ROOT.parent / "shared" / "corpora"
SAMPLES = PROJECT_ROOT / "data" / "samples"

TEST_CONFIG = textwrap.dedent(
    """
    timezone: Europe/Berlin
    fields:
      company: {type: text}
      birthday: {type: date}
      purchase_total: {type: float}
      vip: {type: boolean}
      employees: {type: integer}
      renewal: {type: date, format: "%d/%m/%Y"}
    lists:
      newsletter: {name: Newsletter}
      webinar-2026: {name: Webinar attendees}
      customers: {name: Customers}
      seed-tests: {name: Internal test addresses, test: true}
    # The PDF costs a second or two per run that changes the report; tests/test_report.py turns it on.
    reports: {pdf: false}
    """
)

# The ingest and contacts stages: reading, validating and merging files into contacts, statuses and events.
INGEST_AND_MERGE = (
    "import_files",
    "rejected_rows",
    "field_issues",
    "erasure_log",
    "contacts",
    "status_history",
    "suppressions",
    "events",
)

# ... and what is computed from them: engagement, list membership and list health (no segments, exports or report).
THROUGH_METRICS = (*INGEST_AND_MERGE, "contact_engagement", "list_members", "lists", "list_health")

SUBSCRIBE_MANIFEST = "consent: confirmed\nmode: subscribe\nlists: [newsletter]\nsource: test form\n"


# Where the tests' files go when the machine has one: a RAM file system. The suite's DuckDB checkpoints,
# Dagster's SQLite commits and the exports' atomic writes fsync, which on a disk costs about a third of the
# suite's time; the crash tests kill processes (SIGKILL), which needs no durability from the disk.
# CONTACTS_TEST_TMP=disk, or an explicit --basetemp, keeps pytest's own choice.
RAM_DISK = Path("/dev/shm")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if (
        hasattr(config, "workerinput")
        or config.option.basetemp
        or os.environ.get("CONTACTS_TEST_TMP") == "disk"
    ):
        return  # xdist workers get a folder under the controller's
    if RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK):
        config.option.basetemp = tempfile.mkdtemp(prefix="contacts-tests-", dir=RAM_DISK)
        config.stash[RAM_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    if RAM_BASETEMP in config.stash:  # RAM is not left holding the suite's files
        shutil.rmtree(config.stash[RAM_BASETEMP], ignore_errors=True)


RAM_BASETEMP = pytest.StashKey[str]()


def error_chain(error) -> str:
    """A step failure's message and the messages of its causes (the user-facing reason is in a cause)."""
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return " <- ".join(messages)


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Failed step name -> the reason the user sees (a Failure's description, else the error chain)."""
    failures = {}
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            reason = data.user_failure_data.description if data.user_failure_data else None
            failures[event.step_key] = reason or error_chain(data.error)
    return failures


# The job per paths, config and segment files: building the definitions and resolving the job takes about
# 0.15 s, and the suite runs the pipeline about a thousand times, mostly over unchanged definitions. The key is
# everything build_definitions reads, by content, so a test that edits its config or a segment gets new ones.
_JOBS: dict[tuple, dg.JobDefinition] = {}


def refresh_job(paths: Paths) -> dg.JobDefinition:
    segments = sorted(paths.segments_dir.glob("*.sql")) if paths.segments_dir.is_dir() else []
    key = (
        paths,
        paths.config_path.read_bytes() if paths.config_path.exists() else None,
        tuple((segment.name, segment.read_bytes()) for segment in segments),
    )
    job = _JOBS.pop(key, None) or build_definitions(paths).resolve_job_def(REFRESH_JOB)
    _JOBS[key] = job
    # A test uses its own paths: the newest few are all a worker reuses (each job holds a few MB).
    while len(_JOBS) > 8:
        del _JOBS[next(iter(_JOBS))]
    return job


@dataclass
class Workspace:
    """A data directory with an inbox, a config file, and helpers to drop files and run the pipeline."""

    paths: Paths

    @property
    def inbox(self) -> Path:
        return self.paths.contact_inbox

    def drop(
        self,
        name: str,
        content: bytes | str,
        manifest: str | None = SUBSCRIBE_MANIFEST,
        folder: str = "contacts",
    ) -> Path:
        inbox = self.paths.inbox / folder
        inbox.mkdir(parents=True, exist_ok=True)
        path = inbox / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if manifest is not None and folder == "contacts":
            stem = name[:-3] if name.endswith(".gz") else name
            (inbox / (stem.rsplit(".", 1)[0] + ".yaml")).write_text(manifest, encoding="utf-8")
        return path

    def use_shipped_segments(self) -> None:
        self.paths = Paths(self.paths.data_dir, self.paths.config_path, PROJECT_ROOT / "sql" / "segments")

    def write_segment(self, segment_id: str, sql: str) -> Path:
        path = self.paths.segments_dir / f"{segment_id}.sql"
        path.write_text(sql, encoding="utf-8")
        return path

    def copy_to(self, root: Path) -> Workspace:
        """A copy of this workspace (config, segments, inbox, warehouse, exports) under `root`: a warehouse
        materialized once per module, for each test that writes to it."""
        segments_inside = self.paths.segments_dir.parent == self.paths.config_path.parent
        shutil.copytree(self.paths.config_path.parent, root, dirs_exist_ok=True)
        return Workspace(
            Paths(
                data_dir=root / self.paths.data_dir.relative_to(self.paths.config_path.parent),
                config_path=root / self.paths.config_path.name,
                segments_dir=root / "segments" if segments_inside else self.paths.segments_dir,
            )
        )

    def copy_samples(self) -> None:
        shutil.copytree(SAMPLES, self.paths.inbox, dirs_exist_ok=True)

    def run(
        self, as_of: str = "2026-06-30", expect_success: bool = True, only: tuple[str, ...] | None = None
    ) -> dg.ExecuteInProcessResult:
        """The whole job, as `contacts run` runs it; `only`: just these assets (and their checks), for
        tests of one stage, e.g. INGEST_AND_MERGE for how files are read and merged."""
        selection = [dg.AssetKey(key) for key in only] if only else None
        result = refresh_job(self.paths).execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            tags={AS_OF_TAG: as_of},
            asset_selection=selection,
        )
        if expect_success:
            assert result.success, step_failures(result)
        return result

    def query(self, sql: str, parameters: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.paths.warehouse), read_only=True)
        try:
            return con.execute(sql, parameters or []).fetchall()
        finally:
            con.close()

    def one(self, sql: str, parameters: list | None = None):
        rows = self.query(sql, parameters)
        assert len(rows) == 1, rows
        return rows[0]

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every public relation, sorted, for comparing two states of the warehouse."""
        tables = [
            "contacts",
            "import_files",
            "rejected_rows",
            "field_issues",
            "suppressions",
            "staging.contact_rows",
            "events",
            "status_history",
            "erasure_log",
            "contact_engagement",
        ]
        return {table: sorted(self.query(f"select * from {table}"), key=repr) for table in tables}


def run_in_process(env: dict[str, str], as_of: str = "2026-06-30") -> dg.ExecuteInProcessResult:
    """The job in this process over the paths a `contacts run` subprocess would use (CONTACTS_* in `env`):
    for the runs before and after the one a process-level test kills, which need not pay a process start."""
    paths = Paths(
        data_dir=Path(env["CONTACTS_DATA_DIR"]),
        config_path=Path(env["CONTACTS_CONFIG"]),
        segments_dir=Path(env["CONTACTS_SEGMENTS_DIR"]),
    )
    return Workspace(paths).run(as_of=as_of)


def make_workspace(root: Path) -> Workspace:
    """A data directory and the test contacts.yaml under `root`."""
    config_path = root / "contacts.yaml"
    config_path.write_text(TEST_CONFIG, encoding="utf-8")
    data_dir = root / "data"
    (data_dir / "inbox" / "contacts").mkdir(parents=True)
    # No segments unless a test asks for them (workspace.use_shipped_segments or its own folder): fewer steps per run.
    segments_dir = root / "segments"
    segments_dir.mkdir()
    return Workspace(Paths(data_dir=data_dir, config_path=config_path, segments_dir=segments_dir))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path)
