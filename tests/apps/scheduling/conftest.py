"""Solves run on the job runner: a worker runs in the test process (as the embedded one does in a web process),
so a solve goes on in the background while a test watches its progress or cancels it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaoyun.jobs import runner


@pytest.fixture(autouse=True, scope="module")
def job_worker() -> Iterator[runner.Runner]:
    w = runner.Runner(2, schedule=False)
    w.start()
    yield w
    w.stop()
