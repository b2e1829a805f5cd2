"""From a contact log (and survey and CRM exports) to the observed-data directory of cxsim-fit.

Contacts become needs (:func:`cxsim.data.contacts.needs.group_needs`), one row of
``episodes.csv`` each:

* ``start_min``/``end_min``: the first arrival, the last contact's end; ``contacts``, summed
  ``wait_min`` and ``handle_min``; ``first_channel``; ``channels`` and ``touchpoints`` (the
  queues): the distinct names, sorted, joined by ``|``;
* ``transfers``: contacts transferred in; ``repeats``: the same number (a log cannot tell
  whether context passed at a transfer; cxsim takes it that it did not, as its engine does when
  context is lost); ``switches``: changes of channel between consecutive contacts; ``steps``:
  0 (menu levels and form pages are not in a contact log);
* ``bot`` (contacts on ``bot_channels``): contained (the need ended there), escalated (an
  agent contact followed), looped (it ended there unresolved), or none;
* ``outcome`` by the last contact: served or contained -> resolved; abandoned -> abandoned;
  unresolved -> gave_up; a need not resolved whose last contact ends within ``window_min`` of
  the end of the log -> in_system (the customer may still come back); ``ttr_min`` for resolved
  needs.

Customers come from a CRM export (``customers`` table) or, without one, from the log (one
segment ``all``, no churn, no revenue). Customer ids are kept when they are all integers,
else numbered 1, 2, ... (``ids`` maps them back). Rows that cannot enter the directory are
counted by reason in ``counts``, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cxsim.data.contacts.canonical import ContactLog
from cxsim.data.contacts.needs import NEED_WINDOW_MIN, contact_ends, group_needs
from cxsim.data.contacts.read import Table
from cxsim.data.load import ObservedData
from cxsim.data.schemas import FIELDS, LIST_SEPARATOR

BOT_CHANNELS = ("chatbot",)
INT_ID = r"^\d{1,18}$"


@dataclass
class ObservedFromLog:
    """The observed data built from a log, the customer id key, and what was left out."""

    data: ObservedData
    ids: pd.DataFrame  # customer_id (int, in the directory) <-> source_id (the export's)
    counts: dict = field(default_factory=dict)


def _typed(file: str, frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[f.name for f in FIELDS[file]]].astype({f.name: f.dtype for f in FIELDS[file]})


def _id_key(*columns: pd.Series) -> pd.Series:
    """source id -> int id: the ids themselves when all are integers, else 1, 2, ..."""
    ids = pd.unique(pd.concat([c.dropna().astype("str") for c in columns], ignore_index=True))
    ids = pd.Series(ids, dtype="str")
    if ids.str.fullmatch(INT_ID).all():
        return pd.Series(ids.astype("int64").to_numpy(), index=ids.to_numpy())
    ids = ids.sort_values()
    return pd.Series(np.arange(1, ids.size + 1), index=ids.to_numpy())


def _joined(values: pd.Series, by: np.ndarray) -> pd.Series:
    return pd.Series(values.astype("str").fillna("").to_numpy()).groupby(by).agg(
        lambda s: LIST_SEPARATOR.join(sorted(set(s) - {""})))


def episodes_of(log: ContactLog, window_min: float = NEED_WINDOW_MIN,
                bot_channels: tuple[str, ...] = BOT_CHANNELS) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per need (columns of ``episodes.csv`` but ``customer_id`` still the source id,
    ``episode_id`` = need + 1) and the need of each contact."""
    f = log.contacts.sort_values("arrival", kind="stable")
    need = group_needs(f, window_min)
    order = np.lexsort((f["arrival"].to_numpy(), need))
    f, need = f.iloc[order].reset_index(drop=True), need[order]
    end = contact_ends(f)
    wait = (f["queue_exit"] - f["queue_entry"]).fillna(0.0).to_numpy()
    handle = (f["service_end"] - f["service_start"]).fillna(0.0).to_numpy()
    channel = f["channel"].astype("str").to_numpy()
    outcome = f["outcome"].astype("str").to_numpy()
    bot = np.isin(channel, bot_channels)
    first = np.r_[True, need[1:] != need[:-1]]
    last = np.r_[need[1:] != need[:-1], True]
    g = pd.DataFrame({"need": need, "end": end, "wait": wait, "handle": handle,
                      "transfer": f["transfer_from"].notna().to_numpy(),
                      "switch": ~first & (channel != np.r_[[""], channel[:-1]]),
                      "bot": bot, "bot_then_agent": bot & ~last})
    agg = g.groupby("need").agg(end_min=("end", "max"), contacts=("need", "size"),
                                wait_min=("wait", "sum"), handle_min=("handle", "sum"),
                                transfers=("transfer", "sum"), switches=("switch", "sum"),
                                any_bot=("bot", "any"), escalated=("bot_then_agent", "any"))
    head, tail = f[first].reset_index(drop=True), np.flatnonzero(last)
    out_last = outcome[tail]
    resolved = np.isin(out_last, ("served", "contained"))
    ep = pd.DataFrame({
        "episode_id": agg.index.to_numpy() + 1,
        "source_customer": head["customer_id"].to_numpy(),
        "reason": head["reason"].astype("str").fillna("unknown").to_numpy(),
        "start_min": head["arrival"].to_numpy(), "end_min": agg["end_min"].to_numpy(),
        "first_channel": channel[first], "channels": _joined(f["channel"], need).to_numpy(),
        "touchpoints": _joined(f["queue"], need).to_numpy(),
        "contacts": agg["contacts"].to_numpy(), "wait_min": agg["wait_min"].to_numpy(),
        "handle_min": agg["handle_min"].to_numpy(), "steps": 0,
        "transfers": agg["transfers"].to_numpy(), "repeats": agg["transfers"].to_numpy(),
        "switches": agg["switches"].to_numpy(),
    })
    last_bot = bot[tail]
    ep["bot"] = np.select(
        [~agg["any_bot"].to_numpy(), agg["escalated"].to_numpy() & ~last_bot,
         last_bot & (out_last == "contained")], ["none", "escalated", "contained"], "looped")
    late = agg["end_min"].to_numpy() > log.end_min - window_min
    ep["outcome"] = np.select(
        [resolved, late, out_last == "abandoned"], ["resolved", "in_system", "abandoned"],
        "gave_up")
    ep["ttr_min"] = np.where(ep["outcome"] == "resolved", ep["end_min"] - ep["start_min"],
                             np.nan)
    contact_need = pd.Series(need, index=f["contact_id"].to_numpy())
    return ep, contact_need


def _customers(log: ContactLog, crm: Table | None, counts: dict) -> pd.DataFrame:
    """customers.csv rows (customer_id still the source id)."""
    end = log.end_min
    if crm is None:
        ids = log.contacts["customer_id"].dropna().astype("str").unique()
        return pd.DataFrame({"source_customer": ids, "segment": "all", "start_min": 0.0,
                             "churn_min": np.nan, "censored_min": end, "revenue": 0.0})
    c = crm.frame
    churn = c["churn"].to_numpy() if "churn" in c else np.full(len(c), np.nan)
    start = c["start"].fillna(0.0).to_numpy() if "start" in c else np.zeros(len(c))
    gone_before = churn < 0
    inverted = churn < start
    dup = c["customer_id"].duplicated(keep="first").to_numpy()
    counts["customers_left_out"] = {
        "churned_before_the_log": int(gone_before.sum()),
        "churn_before_start": int((inverted & ~gone_before).sum()),
        "duplicate_customer_id": int((dup & ~gone_before & ~inverted).sum())}
    keep = ~gone_before & ~inverted & ~dup
    churn = np.where(churn > end, np.nan, churn)  # after the log: not observed
    return pd.DataFrame({
        "source_customer": c["customer_id"].astype("str").to_numpy()[keep],
        "segment": c["segment"].astype("str").to_numpy()[keep],
        "start_min": np.clip(start, 0.0, end)[keep], "churn_min": churn[keep],
        "censored_min": end,
        "revenue": (c["revenue"].fillna(0.0).to_numpy() if "revenue" in c
                    else np.zeros(len(c)))[keep]})


def _surveys(s: pd.DataFrame, ep: pd.DataFrame, contact_need: pd.Series,
             case_need: pd.Series, counts: dict) -> pd.DataFrame:
    """surveys.csv rows (customer ids still source ids); counted reasons for the rest."""
    post = (s["kind"] == "post_interaction").to_numpy()
    need = pd.Series(np.nan, index=s.index)
    if "contact_id" in s:
        need = need.fillna(pd.Series(contact_need.reindex(s["contact_id"].to_numpy())
                                     .to_numpy(), index=s.index))
    if "case_id" in s:
        need = need.fillna(pd.Series(case_need.reindex(s["case_id"].to_numpy()).to_numpy(),
                                     index=s.index))
    scores = [c for c in ("nps", "ces", "csat") if c in s]
    answered = s["answered"].astype("boolean") if "answered" in s else \
        s[scores].notna().any(axis=1)
    answered = answered.fillna(s[scores].notna().any(axis=1)).to_numpy(dtype=bool)
    customer_of = pd.Series(ep["source_customer"].to_numpy(), index=ep["episode_id"] - 1)
    owner = customer_of.reindex(need.to_numpy()).to_numpy()
    has = {c: s[c].notna().to_numpy() if c in s else np.zeros(len(s), bool)
           for c in ("nps", "ces", "csat")}
    rules = [
        ("sent_before_the_log", s["sent"].to_numpy() < 0),
        ("post_interaction_without_a_known_contact", post & need.isna().to_numpy()),
        ("customer_is_not_the_contacts", post & need.notna().to_numpy()
         & (owner != s["customer_id"].astype("str").to_numpy())),
        ("answered_post_interaction_without_ces_and_csat",
         post & answered & ~(has["ces"] & has["csat"])),
        ("answered_periodic_without_nps", ~post & answered & ~has["nps"]),
    ]
    reason = np.full(len(s), "", dtype=object)
    for name, hit in rules:
        reason[(reason == "") & hit] = name
    counts["surveys_left_out"] = {k: int(v) for k, v in
                                  pd.Series(reason[reason != ""]).value_counts().items()}
    keep = reason == ""
    sid = s["survey_id"].astype("str") if "survey_id" in s else s["line"].astype("str")
    sid_int = sid.astype("int64") if sid.str.fullmatch(INT_ID).all() else pd.Series(
        pd.factorize(sid)[0] + 1, index=s.index)
    out = pd.DataFrame({
        "survey_id": sid_int.to_numpy(), "source_customer": s["customer_id"].astype("str"),
        "episode_id": np.where(post, need.to_numpy() + 1, np.nan), "kind": s["kind"],
        "sent_min": s["sent"].to_numpy(), "answered": answered.astype(int)})
    for c in ("nps", "ces", "csat"):
        values = s[c] if c in s else pd.Series(pd.NA, index=s.index)
        out[c] = values.where(answered & ((c == "nps") != post))
    return out[keep].reset_index(drop=True)


def observed_from_contacts(log: ContactLog, surveys: Table | None = None,
                           customers: Table | None = None,
                           window_min: float = NEED_WINDOW_MIN,
                           bot_channels: tuple[str, ...] = BOT_CHANNELS) -> ObservedFromLog:
    """The observed data of ``log`` with surveys and customers (read through their mappings
    with the log's origin, ``read_table(path, mapping, origin=log.origin)``). Write it with
    :func:`cxsim.data.write_observed`, which validates it as cxsim-fit reads it."""
    counts: dict = {}
    ep, contact_need = episodes_of(log, window_min, bot_channels)
    cust = _customers(log, customers, counts)
    known = ep["source_customer"].isin(set(cust["source_customer"]))
    # A need outside its customer's life in the CRM (before "since", after the churn) is an
    # impossible timeline for the model: left out and counted, never fitted.
    life = cust.drop_duplicates("source_customer").set_index("source_customer")
    who = ep["source_customer"].astype("str")
    before = known & (ep["start_min"] < who.map(life["start_min"])).to_numpy()
    after = known & (ep["start_min"] > who.map(life["churn_min"])).to_numpy()
    counts["needs"] = len(ep)
    counts["needs_left_out"] = {
        "unidentified_customer": int(ep["source_customer"].isna().sum()),
        "customer_not_in_customers": int((ep["source_customer"].notna() & ~known).sum()),
        "before_customer_start": int(before.sum()),
        "after_customer_churn": int((after & ~before).sum())}
    known = known & ~before & ~after
    case = log.contacts["case_id"]
    case_need = contact_need.reindex(log.contacts["contact_id"][case.notna()].to_numpy())
    case_need.index = case[case.notna()].to_numpy()
    case_need = case_need[~case_need.index.duplicated()]
    s = (_surveys(surveys.frame, ep, contact_need, case_need, counts) if surveys is not None
         else pd.DataFrame(columns=["survey_id", "source_customer", "episode_id", "kind",
                                    "sent_min", "answered", "nps", "ces", "csat"]))
    ep = ep[known].reset_index(drop=True)
    in_customers = s["source_customer"].isin(set(cust["source_customer"]))
    kept_episode = s["episode_id"].isna() | s["episode_id"].isin(set(ep["episode_id"]))
    if surveys is not None:
        counts["surveys_left_out"]["customer_not_in_customers"] = int((~in_customers).sum())
        counts["surveys_left_out"]["episode_left_out"] = int((in_customers & ~kept_episode)
                                                             .sum())
    s = s[in_customers & kept_episode].reset_index(drop=True)
    key = _id_key(cust["source_customer"], ep["source_customer"], s["source_customer"])
    frames = {}
    for file, frame in (("customers.csv", cust), ("episodes.csv", ep), ("surveys.csv", s)):
        frame = frame.assign(customer_id=key.reindex(frame["source_customer"].astype("str")
                                                     .to_numpy()).to_numpy())
        frames[file] = _typed(file, frame)
    ids = pd.DataFrame({"customer_id": key.to_numpy(), "source_id": key.index.to_numpy()})
    data = ObservedData(frames["episodes.csv"], frames["surveys.csv"], frames["customers.csv"],
                        None, Path(log.source))
    return ObservedFromLog(data, ids, counts)
