"""Where a deployment's logs go (`Microsoft.OperationalInsights/workspaces`, with their
retention, and `Microsoft.Insights/components`, Application Insights over one): only
recorded in the lab, which keeps every function's log as a file instead. A component
answers its read-only `ConnectionString`, as Azure does, pointing nowhere."""

from __future__ import annotations

import uuid
from typing import Any

from .resources import ResourceStore, ResourceType, plain


def component(store: ResourceStore, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    shaped = plain(store, rid, body, existing)
    key = (existing or {}).get("properties", {}).get("InstrumentationKey") or str(uuid.uuid4())
    shaped["properties"].update(InstrumentationKey=key,
                                ConnectionString=f"InstrumentationKey={key};IngestionEndpoint=https://swarmlab.invalid/")
    return shaped


def install(store: ResourceStore) -> None:
    store.register(ResourceType("Microsoft.OperationalInsights/workspaces", plain))
    store.register(ResourceType("Microsoft.Insights/components", component))
