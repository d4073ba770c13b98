"""Helpdesk importers: Zendesk and Intercom exports, and any table through a column mapping,
to the canonical tables."""

from frt_experiments.ingest._common import ImportResult
from frt_experiments.ingest.generic import import_csv
from frt_experiments.ingest.intercom import import_intercom
from frt_experiments.ingest.zendesk import import_zendesk

__all__ = ["ImportResult", "import_csv", "import_intercom", "import_zendesk"]
