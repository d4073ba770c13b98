"""Helpdesk importers: Zendesk, Intercom, Freshdesk and Help Scout exports, call and chat logs,
and any table through a column mapping, to the canonical tables."""

from frt_experiments.ingest._common import ImportResult
from frt_experiments.ingest.calls import import_calls
from frt_experiments.ingest.freshdesk import import_freshdesk
from frt_experiments.ingest.generic import import_csv
from frt_experiments.ingest.helpscout import import_helpscout
from frt_experiments.ingest.intercom import import_intercom
from frt_experiments.ingest.zendesk import import_zendesk

__all__ = ["ImportResult", "import_calls", "import_csv", "import_freshdesk", "import_helpscout",
           "import_intercom", "import_zendesk"]
