"""Route 53, extended: a change batch is checked as Route 53 checks it before anything is
applied. moto deleted a record whatever values the DELETE gave (and when it did not
exist), so two writers could clobber each other unseen. Here, as on AWS:

- a DELETE must name a record that exists, with exactly its TTL and values, else the
  whole batch fails with `InvalidChangeBatch` ("... but the values provided do not match
  the current values" / "... but it was not found");
- a CREATE of a record that exists fails the batch ("... but it already exists").

Records with a `SetIdentifier` (weighted, latency, ...) keep moto's behaviour.
"""

from __future__ import annotations

from typing import Any

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import Route53Backend


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeBatch", message)


def _name(name: str) -> str:
    return name.lower().rstrip(".") + "."


def _values(records: Any) -> list[str]:
    out = []
    for r in records or []:
        out.append(str(r.get("Value") if isinstance(r, dict) else r))
    return sorted(out)


def install() -> None:
    moto_change = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self: Route53Backend, zoneid: str, change_list: list[dict[str, Any]]) -> None:
        zone = self.get_hosted_zone(zoneid)
        existing: dict[tuple[str, str], tuple[Any, list[str]]] = {
            (_name(r.name), r.type): (r.ttl, _values(r.records))
            for r in zone.rrsets
            if not r.set_identifier
        }
        for change in change_list:
            rs = change["ResourceRecordSet"]
            if rs.get("SetIdentifier") or rs.get("AliasTarget"):
                continue
            key = (_name(rs["Name"]), rs.get("Type"))
            label = f"[name='{key[0]}', type='{key[1]}']"
            if change["Action"] == "DELETE":
                current = existing.get(key)
                if current is None:
                    raise InvalidChangeBatch(f"Tried to delete resource record set {label} but it was not found")
                ttl, values = current
                if str(ttl) != str(rs.get("TTL")) or values != _values(rs.get("ResourceRecords")):
                    raise InvalidChangeBatch(
                        f"Tried to delete resource record set {label} but the values provided do not match the current values"
                    )
                del existing[key]
            elif change["Action"] == "CREATE":
                if key in existing:
                    raise InvalidChangeBatch(f"Tried to create resource record set {label} but it already exists")
                existing[key] = (rs.get("TTL"), _values(rs.get("ResourceRecords")))
            elif change["Action"] == "UPSERT":
                existing[key] = (rs.get("TTL"), _values(rs.get("ResourceRecords")))
        moto_change(self, zoneid, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets  # type: ignore[method-assign]
