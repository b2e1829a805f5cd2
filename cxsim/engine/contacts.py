"""The engine's own contact log: one row per contact, in the canonical columns of a real log
(docs/contact_logs.md), so the whole path from a log to a calibrated scenario can be checked
against known truth.

Nodes append one tuple per visit when the replication keeps rows (``Node.contacts``); this
module turns them into the table. Times are minutes since the engine's time 0 (Monday
00:00, the canonical mapping's origin 2024-01-01). An agent is a duty layer of its queue
(``Q:A3``: agent 3 of queue Q, on duty whenever at least 3 agents are); a contact an agent
transferred, or a bot escalated, is the ``transfer_from`` of the episode's next contact.
Customers still waiting at the horizon (never served, never abandoned) have no row: a log
exported at the horizon would not hold them either. A customer who took a call-back left the
queue on arrival (their queue exit); the agent's call is the service, or, missed, a service
of ``attempt_min`` with outcome ``unresolved``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxsim.engine.stats import (
    CALLBACK,
    KIND_ABANDONED,
    KIND_CONTAINED,
    KIND_ESCALATED,
    KIND_FAILED,
    KIND_LOOPED,
    KIND_RESOLVED,
    KIND_TRANSFERRED,
    KIND_UNRESOLVED,
)

# The canonical outcome of each visit kind: served calls that left the need unresolved are
# still served (the recontact is a contact of its own).
OUTCOME_OF = {KIND_RESOLVED: "served", KIND_UNRESOLVED: "served",
              KIND_TRANSFERRED: "transferred", KIND_ABANDONED: "abandoned",
              KIND_CONTAINED: "contained", KIND_ESCALATED: "transferred",
              KIND_FAILED: "unresolved", KIND_LOOPED: "unresolved"}
PASSED_ON = (KIND_TRANSFERRED, KIND_ESCALATED)
COLUMNS = ("contact_id", "customer_id", "channel", "queue", "arrival", "queue_entry",
           "queue_exit", "service_start", "service_end", "outcome", "agent_id", "case_id",
           "reason", "priority", "transfer_from")


def contact_frame(nodes: list, channels: list[str], reasons: list[str],
                  until_min: float) -> pd.DataFrame:
    """The contacts of ``nodes`` arriving before ``until_min``, in arrival order, with
    contact ids ``1, 2, ...`` and customer ids ``customer + 1`` (those of the CRM export)."""
    parts = []
    for node in nodes:
        rows = node.contacts or []
        a = np.array(rows, dtype=float).reshape(-1, 9)
        parts.append(pd.DataFrame({
            "episode": a[:, 0].astype(np.int64), "customer": a[:, 1].astype(np.int64),
            "reason_i": a[:, 2].astype(np.int64), "arrival": a[:, 3],
            "queue_exit": a[:, 4], "service_start": a[:, 5], "service_end": a[:, 6],
            "kind": a[:, 7].astype(np.int64) % CALLBACK, "agent": a[:, 8].astype(np.int64),
            "queue": node.name, "channel": channels[node.channel],
            "queued": node.assisted}))
    f = pd.concat(parts, ignore_index=True)
    f = f[f["arrival"] < until_min].sort_values(["arrival", "episode"], kind="stable")
    f = f.reset_index(drop=True)
    f["contact_id"] = (np.arange(len(f)) + 1).astype(str)
    # the episode's previous contact, when it passed the need on, is this one's source
    prev = f.groupby("episode", sort=False)["contact_id"].shift()
    passed = f.groupby("episode", sort=False)["kind"].shift().isin(PASSED_ON)
    queued = f["queued"].to_numpy()
    return pd.DataFrame({
        "contact_id": f["contact_id"],
        "customer_id": (f["customer"] + 1).astype(str),
        "channel": f["channel"], "queue": f["queue"], "arrival": f["arrival"],
        "queue_entry": np.where(queued, f["arrival"], np.nan),
        "queue_exit": np.where(queued, f["queue_exit"], np.nan),
        "service_start": f["service_start"], "service_end": f["service_end"],
        "outcome": f["kind"].map(OUTCOME_OF),
        "agent_id": np.where(f["agent"] >= 0, f["queue"] + ":A" + f["agent"].astype(str),
                             None),
        "case_id": None, "reason": np.asarray(reasons, dtype=object)[f["reason_i"]],
        "priority": None, "transfer_from": prev.where(passed),
    })[list(COLUMNS)]
