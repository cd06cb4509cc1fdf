"""Named points where tests kill the process as SIGKILL would (CONTACTS_TEST_CRASH_AT=<name>).

Crash safety is proven by killing real `contacts run` processes at these points and checking that the
next run finishes the work; outside tests the variable is unset and these calls do nothing.
"""

from __future__ import annotations

import os

CRASH_AT = "CONTACTS_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) == name:
        os._exit(137)
