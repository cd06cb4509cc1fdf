"""contacts.yaml: loaded once, and a bad file fails with the file, the key and the reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.config import ConfigError, load_config
from pipelines.settings import PROJECT_ROOT, paths_from_env
from tests.conftest import INGEST_AND_MERGE


def test_shipped_config_is_valid():
    config = load_config(PROJECT_ROOT / "contacts.yaml")
    assert config.lists["seed-tests"].test is True
    assert config.rules.soft_bounce_limit == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fields:\n  birthday: {type: datetime}\n", "key 'fields.birthday.type': Input should be"),
        ("fields:\n  email: {type: text}\n", "key 'fields': field name 'email' is a built-in contact column"),
        ("fields:\n  Company Name: {type: text}\n", "must be lower-case letters"),
        ("fields:\n  n: {type: integer, format: '%d'}\n", "`format` applies only to date fields"),
        ("lists:\n  all: {name: Everyone}\n", "list id 'all' is a system list"),
        ("lists:\n  news: {title: News}\n", "key 'lists.news.name': Field required"),
        (
            "rules:\n  soft_bounce_limit: 0\n",
            "key 'rules.soft_bounce_limit': Input should be greater than or equal to 1",
        ),
        (
            "rules:\n  soft_bounce_limt: 3\n",
            "key 'rules.soft_bounce_limt': unknown key; did you mean 'soft_bounce_limit'?",
        ),
        ("timezone: Mars/Olympus\n", "key 'timezone': unknown timezone 'Mars/Olympus'"),
        ("- just\n- a list\n", "expected a mapping"),
        ("fields: {a: [\n", "not valid YAML"),
    ],
)
def test_bad_config_names_file_key_and_reason(tmp_path, text, message):
    path = tmp_path / "contacts.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_environment_overrides_locations(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACTS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("CONTACTS_CONFIG", str(tmp_path / "c.yaml"))
    paths = paths_from_env()
    assert paths.warehouse == tmp_path / "d" / "warehouse.duckdb"
    assert paths.config_path == tmp_path / "c.yaml"


def test_cli_refuses_a_bad_config_before_running(tmp_path):
    bad = tmp_path / "contacts.yaml"
    bad.write_text("rules:\n  engaged_window_days: soon\n")
    env = {
        "CONTACTS_CONFIG": str(bad),
        "CONTACTS_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PATH": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 2
    assert f"{bad}: key 'rules.engaged_window_days': Input should be a valid integer" in done.stderr
    assert not (tmp_path / "data" / "warehouse.duckdb").exists()


def test_changed_field_type_is_refused(workspace):
    workspace.drop("a.csv", "email,employees\nx@example.com,3\n")
    workspace.run(only=INGEST_AND_MERGE)
    config = workspace.paths.config_path
    config.write_text(config.read_text().replace("employees: {type: integer}", "employees: {type: text}"))
    with pytest.raises(AssertionError, match="fields.employees.type"):
        workspace.run(only=INGEST_AND_MERGE)
