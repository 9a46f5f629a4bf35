"""Makes model discovery (``chaoyun.db.import_all_models`` globs ``**/models.py``) find the workflow tables.

The tables themselves live in ``chaoyun/programme/workflow_models.py``.
"""

from chaoyun.programme.workflow_models import *  # noqa: F403
