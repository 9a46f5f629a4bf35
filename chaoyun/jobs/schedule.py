"""Every periodic task of the platform, run by the job runner once per period across all processes and hosts.

Each entry names the task loop it replaces in ``chaoyun/<ctx>/background.py: tasks()`` (by module and qualified
name); the web process's lifespan no longer starts those loops (``runner.in_process``). What stays there are
per-process services (the MQTT ingest worker, the simulator) and any loop not listed here (a test fails for
such a loop, so it is moved or listed as a service on purpose)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chaoyun.settings import env

log = logging.getLogger("chaoyun.jobs.schedule")

# Loops of background.py that are per-process services, not jobs: they keep running in the web process.
SERVICES = {
    "chaoyun.devices.background.mqtt_ingest",
    "chaoyun.simulator.background.simulate",
}


@dataclass(frozen=True)
class Periodic:
    name: str
    every_s: float
    target: Callable[[], Any]
    replaces: tuple[str, ...] = ()
    first_delay_s: float = 0.0

    def run(self) -> Any:
        out = self.target()
        if out:
            log.info("periodic %s: %s", self.name, out)
        return out


def _session(fn_path: str) -> Callable[[], Any]:
    """A function of ``db`` run in a fresh session."""

    def run() -> Any:
        import importlib

        from chaoyun.db import get_sessionmaker

        module, _, name = fn_path.partition(":")
        with get_sessionmaker()() as db:
            return getattr(importlib.import_module(module), name)(db)

    run.__name__ = fn_path
    return run


def _call(fn_path: str) -> Callable[[], Any]:
    def run() -> Any:
        import importlib

        module, _, name = fn_path.partition(":")
        return getattr(importlib.import_module(module), name)()

    run.__name__ = fn_path
    return run


def _janitor() -> None:
    from chaoyun.db import get_sessionmaker
    from chaoyun.devices.connectors import commands

    with get_sessionmaker()() as db:
        commands.resend_pending(db)
        commands.expire_commands(db)


def _refresh_rollups() -> int:
    """Recompute the 1-minute and 1-hour rollups of the hours that received points since the last pass."""
    from chaoyun.devices import rollups
    from chaoyun.devices.store import get_store

    return rollups.refresh(get_store(), limit=5000)


def _selftest_tick() -> None:
    """Records one run (a done ``jobs.tick`` job): the multi-process test counts them."""
    from chaoyun.db import get_sessionmaker
    from chaoyun.jobs.models import Job
    from chaoyun.jobs.runner import WORKER_ID, current_slot

    with get_sessionmaker()() as db:
        db.add(Job(kind="jobs.tick", status="done", worker=WORKER_ID, args={"slot": current_slot()}))
        db.commit()


def entries() -> list[Periodic]:
    only = {n for n in env("JOBS_ONLY").split(",") if n}
    return [e for e in _all_entries() if not only or e.name in only]


def _all_entries() -> list[Periodic]:
    from chaoyun.devices.connectors.config import mqtt_settings

    alarms_loop = "chaoyun.devices.alarms._loop.<locals>.run"
    out = [
        Periodic("jobs.reaper", max(float(env("JOBS_LEASE_S")) / 3, 1.0), _call("chaoyun.jobs.runner:reap")),
        Periodic("devices.offline", 15, _session("chaoyun.devices.alarms:check_offline"), (alarms_loop,)),
        Periodic("devices.webhooks", 5, _session("chaoyun.devices.alarms:deliver_pending"), (alarms_loop,)),
        Periodic("devices.retention", 6 * 3600, _session("chaoyun.devices.alarms:_retention"), (alarms_loop,), 60),
        Periodic(
            "apps.reports", float(env("REPORTS_CHECK_S")), _call("chaoyun.apps.background:_once"),
            ("chaoyun.apps.background.scheduled_reports",), 30,
        ),
        Periodic(
            "apps.maintenance", 900, _call("chaoyun.apps.maintenance.background:check_once"),
            ("chaoyun.apps.maintenance.background.maintenance_check",), 45,
        ),
        Periodic(
            "apps.predict_score", float(os.environ.get("CHAOYUN_PREDICT_SCORE_S", "60")),
            _call("chaoyun.apps.maintenance.predict.jobs:_once"),
            ("chaoyun.apps.maintenance.predict.jobs.score_loop",), 20,
        ),
        Periodic(
            "programme.outcomes", 6 * 3600, _call("chaoyun.programme.background:_refresh_outcomes"),
            ("chaoyun.programme.background.outcome_snapshots",), 120,
        ),
        Periodic(
            "security.escalation", 3600, _call("chaoyun.security.background:check_once"),
            ("chaoyun.security.background.escalation_check",), 40,
        ),
        Periodic("devices.rollups", 60, _refresh_rollups, (), 30),
        Periodic(
            "supplychain.progress", 300, _call("chaoyun.supplychain.background:refresh_once"),
            ("chaoyun.supplychain.background.progress_loop",), 60,
        ),
    ]
    if mqtt_settings().commands_in_server:
        out.append(Periodic("devices.commands", 10, _janitor, ("chaoyun.devices.background.command_janitor",), 10))
    if float(env("JOBS_SELFTEST_S")) > 0:
        out.append(Periodic("jobs.selftest", float(env("JOBS_SELFTEST_S")), _selftest_tick))
    return out


def by_name() -> dict[str, Periodic]:
    return {e.name: e for e in entries()}


def replaced() -> set[str]:
    """Qualified names of the background loops the runner took over (whether or not they are enabled here)."""
    from chaoyun.devices.connectors.config import mqtt_settings

    names = {r for e in _all_entries() for r in e.replaces}
    if not mqtt_settings().commands_in_server:
        names.add("chaoyun.devices.background.command_janitor")
    return names
