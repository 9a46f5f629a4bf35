"""The in-process subscribers of every context, for processes that do not load the web app's routes.

Contexts above devices react to shop-floor events (``chaoyun.devices.events``): maintenance opens an order for an
alarm, scheduling repairs the published plan when a machine goes down. Their subscribers only put jobs on the
runner, so a ``chaoyun ingest-worker`` (which raises most alarms) installs them, and a ``chaoyun worker`` needs the
job kinds they declare. The web app installs them when its routes load.
"""

from __future__ import annotations


def install_all() -> None:
    from chaoyun.apps.maintenance import service as maintenance
    from chaoyun.apps.scheduling import hooks as scheduling

    maintenance.install()
    scheduling.install()
