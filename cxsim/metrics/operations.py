"""Contact-centre KPIs of records: first-contact resolution, handling time, speed of answer,
service level, abandonment, time to resolution. One element per contact or need; an empty
sample gives ``nan``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from cxsim.metrics._checks import _arr, _flags, _masked, _mean, _share


def fcr(resolved_first_contact: ArrayLike) -> float:
    """First-contact resolution: FCR = #needs solved at the first contact / #needs.

    One element per need (problem); 1 - FCR is the repeat-contact rate. ``nan`` if empty.

    >>> fcr([True, True, False, True])
    0.75
    """
    return _share(_flags(resolved_first_contact, "resolved_first_contact"))


def aht(handle_times: ArrayLike) -> float:
    """Average handling time: AHT = sum(handle_times) / #served contacts.

    Pass the handle times of served contacts only (any time unit). ``nan`` if empty.

    >>> aht([3.0, 5.0, 4.0])
    4.0
    """
    return _mean(_arr(handle_times, "handle_times", ndim=1, nonneg=True))


def asa(waits: ArrayLike, answered: ArrayLike) -> float:
    """Average speed of answer: ASA = mean(waits[answered]).

    Waits of unanswered (abandoned) contacts are ignored and may be nan/inf.
    ``nan`` if no contact was answered.

    >>> asa([10, 30, 50], [True, True, False])
    20.0
    """
    w, ans = _masked(waits, answered, "waits", "answered")
    return _mean(w[ans])


def service_level(waits: ArrayLike, answered: ArrayLike, threshold: float) -> float:
    """Service level: SL = #(answered and wait <= threshold) / #arrivals.

    Abandoned contacts stay in the denominator (they count against SL), the
    convention of contact centres and of Erlang C's P(W <= t). Waits of unanswered
    contacts are ignored. ``nan`` if there are no arrivals.

    >>> service_level([10, 30, 50, 5], [True, True, False, True], threshold=20)
    0.5
    """
    w, ans = _masked(waits, answered, "waits", "answered")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be finite and >= 0; got {threshold!r}")
    return _share(ans & (np.where(ans, w, np.inf) <= threshold))


def abandonment_rate(abandoned: ArrayLike) -> float:
    """Abandonment rate = #abandoned / #arrivals; ``nan`` if empty.

    >>> abandonment_rate([False, False, True, False])
    0.25
    """
    return _share(_flags(abandoned, "abandoned"))


def mean_ttr(ttr: ArrayLike, resolved: ArrayLike) -> float:
    """Mean time to resolution of resolved needs: mean(ttr[resolved]).

    TTRs of unresolved needs are ignored (may be nan/inf). ``nan`` if none resolved.

    >>> mean_ttr([2.0, 4.0, float("nan")], [True, True, False])
    3.0
    """
    t, res = _masked(ttr, resolved, "ttr", "resolved")
    return _mean(t[res])
