"""The operations side of a scenario estimated from a contact log, per queue, as plain JSON.

``calibrate_operations(log)`` runs every estimator of this package on each group of contacts
(``by="queue"`` by default; ``"reason"`` or ``"channel"``, or ``None`` for all contacts
pooled as ``"all"``: on a log whose queue column is an IVR line rather than an agent pool,
such as the Technion data, group by reason or pool). Arrival rates count external arrivals
only (contacts without ``transfer_from``): transfers are modelled by their probabilities.
``Operations.to_json()`` is the shape of ``calibration.json``'s per-queue part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxsim.calibrate.operations.abandonment import WAIT_EDGES_MIN, Abandonment, abandonment
from cxsim.calibrate.operations.arrivals import ArrivalRates, arrival_rates
from cxsim.calibrate.operations.cis import SERVED_OUTCOMES, handle_times, waits
from cxsim.calibrate.operations.flows import (
    REDIAL_WINDOW_MIN,
    Redial,
    Transfers,
    first_contact_resolution,
    redials,
    transfers,
)
from cxsim.calibrate.operations.handle import HandleTime, handle_time
from cxsim.calibrate.operations.patience import Patience, patience
from cxsim.calibrate.operations.staffing import (
    Staffing,
    staffing_from_activity,
    staffing_from_roster,
)
from cxsim.data.contacts.canonical import ContactLog
from cxsim.data.contacts.needs import NEED_WINDOW_MIN

log_ = logging.getLogger(__name__)
GROUPINGS = ("queue", "reason", "channel", None)
POOLED = "all"


@dataclass
class QueueOperations:
    """Everything estimated for one queue (or group)."""

    name: str
    contacts: int
    arrivals: ArrivalRates
    handle: HandleTime | None
    patience: Patience | None
    abandonment: Abandonment
    staffing: Staffing
    transfers: Transfers | None = None
    redial: Redial | None = None
    fcr: dict | None = None

    def to_json(self) -> dict:
        return {
            "contacts": self.contacts,
            "arrivals_per_hour": self.arrivals.to_json(),
            "handle": None if self.handle is None else self.handle.to_json(),
            "patience": None if self.patience is None else self.patience.to_json(),
            "abandon_rate": self.abandonment.to_json(),
            "staffing": self.staffing.to_json(),
            "transfers": None if self.transfers is None else self.transfers.to_json(),
            "redial": None if self.redial is None else self.redial.to_json(),
            "fcr": self.fcr,
        }


@dataclass
class Operations:
    """Per-queue estimates with the log's ingestion report and the settings used."""

    queues: dict[str, QueueOperations]
    log: dict
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"log": self.log, "settings": self.settings,
                "queues": {q: ops.to_json() for q, ops in self.queues.items()}}


def _groups(f: pd.DataFrame, by: str | None) -> tuple[pd.Series, pd.DataFrame]:
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}; got {by!r}")
    if by is None:
        f = f.assign(_group=POOLED)
        return f["_group"], f
    return f[by].astype("str").fillna("(none)"), f


def calibrate_operations(log: ContactLog, interval_min: int = 60, by: str | None = "queue",
                         level: float = 0.95, redial_window_min: float = REDIAL_WINDOW_MIN,
                         need_window_min: float = NEED_WINDOW_MIN,
                         wait_edges_min: tuple[float, ...] = WAIT_EDGES_MIN,
                         roster: pd.DataFrame | None = None) -> Operations:
    """Estimate arrivals, handle times, patience, abandonment, staffing, transfers, redials
    and FCR for each group of ``log``'s contacts (see the module doc). ``roster``: shifts with
    ``start``, ``end`` (minutes on the log's clock), optional ``agents`` and ``queue``."""
    group, f = _groups(log.contacts, by)
    key = "_group" if by is None else by
    outcome = f["outcome"].astype("str").to_numpy()
    wait, handle = waits(f), handle_times(f)
    served = np.isin(outcome, SERVED_OUTCOMES)
    offered = served | (outcome == "abandoned")
    external = f["transfer_from"].isna().to_numpy()
    flows_t = transfers(f, key, level)
    flows_r = redials(f, key, redial_window_min, level)
    fcr = first_contact_resolution(f, log.end_min, key, need_window_min, level)
    queues = {}
    for name in sorted(group.unique()):
        mine = (group == name).to_numpy()
        log_.info("calibrating %s: %d contacts", name, int(mine.sum()))
        staff = staffing_from_activity(f["agent_id"].to_numpy()[mine],
                                       f["service_start"].to_numpy()[mine],
                                       f["service_end"].to_numpy()[mine], log.calendar,
                                       interval_min)
        if roster is not None:
            # a roster's queue column names queues: it splits the roster only by queue
            rows = roster if "queue" not in roster or by != "queue" else roster[
                roster["queue"].isna() | (roster["queue"].astype("str") == name)]
            staff.staffed = staffing_from_roster(
                rows["start"].to_numpy(float), rows["end"].to_numpy(float),
                rows["agents"].fillna(1).to_numpy(float) if "agents" in rows else None,
                log.calendar, interval_min)
        q = mine & offered
        queues[name] = QueueOperations(
            name=name, contacts=int(mine.sum()),
            arrivals=arrival_rates(f["arrival"].to_numpy()[mine & external], log.calendar,
                                   interval_min, level),
            handle=handle_time(handle[mine & ~np.isnan(handle)], level),
            patience=patience(wait[q], outcome[q] == "abandoned", level),
            abandonment=abandonment(wait[q], outcome[q] == "abandoned", wait_edges_min, level),
            staffing=staff, transfers=flows_t.get(name), redial=flows_r.get(name),
            fcr=fcr.get(name),
        )
    settings = {"interval_min": interval_min, "by": by, "level": level,
                "redial_window_min": redial_window_min, "need_window_min": need_window_min,
                "arrivals": "external arrivals (no transfer_from), over observed days"}
    return Operations(queues, log.report(), settings)
