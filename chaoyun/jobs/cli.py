"""``chaoyun worker``: a job worker (queue consumer + periodic scheduler) for any number of hosts."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import typer


def register(app: typer.Typer) -> None:
    @app.command("worker")
    def worker(
        threads: int = typer.Option(0, help="worker threads (0: CHAOYUN_JOBS_WORKERS)"),
        schedule: bool = typer.Option(True, help="also start periodic tasks (once per period across all workers)"),
    ) -> None:
        """Run background jobs: claimed jobs (exports, reports, webhooks) and periodic tasks. Start as many as
        you like, on any host sharing the database and CHAOYUN_JOBS_URL; SIGTERM/SIGINT stop it after the
        current jobs (a job killed harder is retried by another worker once its lease runs out)."""
        from chaoyun.hooks import install_all
        from chaoyun.jobs.runner import WORKER_ID, Runner, production

        install_all()  # the job kinds of the contexts' subscribers (repairs, alarm orders)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        runner = Runner(threads or None, schedule=schedule)
        done = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            done.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        runner.start()
        typer.echo(f"worker {WORKER_ID} ({'redis' if production() else 'embedded sqlite'} queue) started", err=True)
        while not done.wait(1.0):
            pass
        runner.stop()
