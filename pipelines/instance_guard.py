"""Whether a Dagster webserver or daemon is using the instance in DAGSTER_HOME, so that `make clean-data`
does not delete it under them (they would log `unable to open database file` until restarted).

Standard library only: `make clean-data` runs it with the system Python, before any venv exists.
Linux reads /proc; elsewhere nothing is found and the removal goes ahead as before.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def processes_using(home: Path) -> list[tuple[int, str]]:
    """(pid, command line) of other processes whose working directory is inside `home` (`make ui` starts
    `dagster dev` from there) or whose environment names it as DAGSTER_HOME."""
    home = home.resolve()
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            cwd = Path(os.readlink(entry / "cwd"))
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or another user's
            continue
        uses_home = cwd == home or home in cwd.parents or f"DAGSTER_HOME={home}".encode() in environ
        if uses_home and "dagster" in command:
            found.append((pid, command))
    return found


def main() -> int:
    home = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DAGSTER_HOME", ".dagster_home"))
    users = processes_using(home)
    if not users:
        return 0
    print(f"refusing to remove {home}: a Dagster process is using it:", file=sys.stderr)
    for pid, command in users:
        print(f"  pid {pid}: {command[:120]}", file=sys.stderr)
    print(
        "stop it first (Ctrl-C in the terminal running `make ui`, or `kill <pid>`), then run `make clean-data` again",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
