"""Independent analytic ground truth for a multi-server FIFO queue (test helper).

Three textbook models, written with numpy/scipy only and deliberately independent of
the ``cxsim`` package so they can serve as an oracle for the simulator:

* :func:`erlang_c` - M/M/c with infinite patience (Erlang C).
* :func:`erlang_a` - M/M/c+M, exponential patience (Erlang A, Palm's model).
* :func:`cobham` - M/M/c with non-preemptive priority classes of one service rate
  (Cobham 1954), per class.

Both return a dict with the same four keys, all defined *per arrival* (long-run
averages over every arriving customer, abandoned ones included):

``p_wait``
    Probability that an arrival finds all agents busy and has to queue.
``mean_wait``
    Mean time spent in queue, min(time to service start, patience).
``service_level``
    Share of all arrivals whose service starts within ``sl_threshold``
    (abandoned customers count as *not* answered, whatever their wait).
``abandon_rate``
    Share of all arrivals who abandon before service starts.

Rates are per unit time (any consistent unit); ``sl_threshold`` is in the same unit.

>>> r = erlang_c(10, 9.0, 1.0, 0.0)
>>> round(r["p_wait"], 4)
0.6687
>>> r = erlang_a(10, 9.0, 1.0, 0.5, 0.0)
>>> abs(r["abandon_rate"] - 0.5 * r["mean_wait"]) < 1e-12
True
"""

from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.special import betainc, gammaln, logsumexp

__all__ = ["cobham", "erlang_a", "erlang_c"]

#: Truncation tolerance of the Erlang-A state distribution (probability mass dropped).
TAIL_TOL = 1e-15
#: Hard cap on the number of queue states kept for Erlang A (guards tiny theta with rho > 1).
MAX_QUEUE_STATES = 5_000_000


def _check_agents(agents: int, minimum: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, numbers.Integral):
        raise TypeError(f"agents must be an integer, got {agents!r}")
    if agents < minimum:
        raise ValueError(f"agents must be >= {minimum}, got {agents}")
    return int(agents)


def _check_rate(name: str, value: float, *, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return value


def _check_threshold(sl_threshold: float) -> float:
    s = float(sl_threshold)
    if math.isnan(s) or s < 0:
        raise ValueError(f"sl_threshold must be >= 0, got {sl_threshold!r}")
    return s


def erlang_b(agents: int, offered_load: float) -> float:
    """Erlang B blocking probability via the stable recursion.

    ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))`` with ``a = lambda/mu`` the offered
    load in Erlangs; ``B(c)`` equals ``(a^c/c!) / sum_{k=0}^{c} a^k/k!`` without overflow.
    """
    c = _check_agents(agents, 0)
    a = _check_rate("offered_load", offered_load, allow_zero=True)
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(agents: int, arrival_rate: float, service_rate: float, sl_threshold: float) -> dict:
    """Steady-state M/M/c FIFO metrics with infinite patience (Erlang C).

    With ``c = agents``, ``lambda = arrival_rate``, ``mu = service_rate``,
    ``a = lambda/mu`` and ``S = sl_threshold``, and requiring ``lambda < c*mu``:

    * ``p_wait = C = c B / (c - a (1 - B))`` where ``B = B(c, a)`` is Erlang B from the
      recursion in :func:`erlang_b`; equivalently
      ``C = [a^c/c! * c/(c-a)] / [sum_{k<c} a^k/k! + a^c/c! * c/(c-a)]``.
    * ``mean_wait = C / (c*mu - lambda)`` (over all arrivals).
    * ``service_level = P(W <= S) = 1 - C exp(-(c*mu - lambda) S)``.
    * ``abandon_rate = 0``.

    Raises ``ValueError`` when the queue is unstable (``lambda >= c*mu``) or an
    argument is out of range.
    """
    c = _check_agents(agents, 1)
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate)
    s = _check_threshold(sl_threshold)
    if lam >= c * mu:
        raise ValueError(
            f"unstable M/M/c queue: arrival_rate={lam} >= agents*service_rate={c * mu}"
        )
    a = lam / mu
    b = erlang_b(c, a)
    p_wait = c * b / (c - a * (1.0 - b))
    drain = c * mu - lam
    return {
        "p_wait": p_wait,
        "mean_wait": p_wait / drain,
        "service_level": 1.0 - p_wait * math.exp(-drain * s),
        "abandon_rate": 0.0,
    }


def _erlang_a_state_distribution(
    c: int, lam: float, mu: float, theta: float, tol: float = TAIL_TOL
) -> np.ndarray:
    """Stationary distribution of the number in system of M/M/c+M, truncated.

    ``pi_n prop. to a^n / n!`` for ``n <= c`` and ``pi_n = pi_c prod_{j=1}^{n-c} lambda /
    (c mu + j theta)`` for ``n > c``. Computed in log space (no overflow for large c),
    extended until the neglected tail is below ``tol`` and then normalised.
    """
    a = lam / mu
    n = np.arange(c + 1)
    log_low = n * math.log(a) - gammaln(n + 1)
    pieces = [log_low]
    last = float(log_low[-1])
    j_start, size = 1, 256
    while True:
        j = np.arange(j_start, j_start + size, dtype=float)
        log_ratio = math.log(lam) - np.log(c * mu + j * theta)
        log_q = last + np.cumsum(log_ratio)
        pieces.append(log_q)
        last = float(log_q[-1])
        j_start += size
        r = math.exp(float(log_ratio[-1]))
        if r < 1.0:
            # Ratios keep decreasing, so the rest is bounded by a geometric series.
            log_total = float(logsumexp(np.concatenate(pieces)))
            log_tail = last + math.log(r) - math.log1p(-r)
            if log_tail - log_total < math.log(tol):
                break
        if j_start > MAX_QUEUE_STATES:
            raise ValueError(
                "Erlang-A state space too large; patience_rate is too small for this "
                "overload (use a larger patience_rate or a stable load with erlang_c)"
            )
        size = min(2 * size, 1 << 20)
    log_p = np.concatenate(pieces)
    p = np.exp(log_p - logsumexp(log_p))
    # Drop the far tail that carries less than tol of mass, then renormalise.
    tail = np.cumsum(p[::-1])[::-1]
    keep = max(c + 1, int(np.searchsorted(-tail, -tol, side="left")))
    p = p[:keep]
    return p / p.sum()


def erlang_a(
    agents: int,
    arrival_rate: float,
    service_rate: float,
    patience_rate: float,
    sl_threshold: float,
) -> dict:
    """Steady-state M/M/c+M FIFO metrics with exponential patience (Erlang A).

    ``c = agents``, ``lambda = arrival_rate``, ``mu = service_rate``, ``theta =
    patience_rate`` (mean patience ``1/theta``), ``S = sl_threshold``. ``theta = 0``
    delegates to :func:`erlang_c` (and then needs ``lambda < c*mu``); for ``theta > 0``
    every load is stable and ``agents = 0`` is allowed.

    State distribution (birth-death chain of the number in system, truncated where
    the tail mass is below 1e-15 and normalised)::

        pi_n prop. to (lambda/mu)^n / n!                                  n <= c
        pi_n = pi_c * prod_{j=1}^{n-c} lambda / (c*mu + j*theta)   n > c

    By PASTA an arrival sees ``n`` with probability ``pi_n``. If ``n < c`` it is served
    at once. Otherwise it has ``k = n - c`` customers ahead; while ``j`` are ahead the
    next "ahead departure" occurs at rate ``c*mu + j*theta`` and at ``j = 0`` its own
    service starts at rate ``c*mu``; throughout it abandons at rate ``theta``. State
    ``j`` is therefore left at rate ``r_j = c*mu + (j+1)*theta``, moving on with
    probability ``(c*mu + j*theta)/r_j``. The absorbing chain has closed forms
    (the products telescope)::

        P(served | k)   = c*mu / (c*mu + (k+1)*theta)
        P(abandon | k)  = (k+1)*theta / (c*mu + (k+1)*theta)
        E[wait | k]     = (k+1) / (c*mu + (k+1)*theta)       (wait = min(T_k, patience))

    and, since holding times do not depend on the exit taken, the time ``T_k`` to
    service start along the served path is a sum of independent ``Exp(r_j)``,
    ``j = 0..k``, which equals ``-log(U)/theta`` with ``U ~ Beta(c*mu/theta + 1, k+1)``::

        P(served, wait <= S | k) = P(served | k) * I_{1 - exp(-theta*S)}(k+1, c*mu/theta + 1)

    (``I`` the regularised incomplete beta function). Aggregating::

        p_wait        = sum_{n>=c} pi_n
        abandon_rate  = sum_{n>=c} pi_n P(abandon | n-c)
        mean_wait     = sum_{n>=c} pi_n E[wait | n-c]
        service_level = sum_{n<c} pi_n + sum_{n>=c} pi_n P(served, wait <= S | n-c)

    Identities (used by the tests): ``mean_wait = E[queue length] / lambda`` (Little)
    and ``abandon_rate = theta * E[queue length] / lambda``.
    """
    theta = _check_rate("patience_rate", patience_rate, allow_zero=True)
    if theta == 0.0:
        return erlang_c(agents, arrival_rate, service_rate, sl_threshold)
    c = _check_agents(agents, 0)
    lam = _check_rate("arrival_rate", arrival_rate)
    mu = _check_rate("service_rate", service_rate)
    s = _check_threshold(sl_threshold)

    pi = _erlang_a_state_distribution(c, lam, mu, theta)
    pi_q = pi[c:]  # arrivals finding all agents busy, k = 0, 1, ... ahead
    m = np.arange(1, pi_q.size + 1, dtype=float)  # k + 1 (ahead plus itself)
    cmu = c * mu
    denom = cmu + m * theta
    p_served = cmu / denom
    p_abandon = m * theta / denom
    mean_wait_k = m / denom
    if math.isinf(s):
        p_within = np.ones_like(m)
    else:
        p_within = betainc(m, cmu / theta + 1.0, -math.expm1(-theta * s))
    return {
        "p_wait": min(1.0, float(pi_q.sum())),
        "mean_wait": float(pi_q @ mean_wait_k),
        "service_level": min(1.0, float(pi[:c].sum() + pi_q @ (p_served * p_within))),
        "abandon_rate": float(pi_q @ p_abandon),
    }


def cobham(agents: int, arrival_rates, service_rate: float) -> dict:
    """Steady-state M/M/c metrics per class under non-preemptive priority (Cobham 1954).

    Classes are listed highest first (class 1 is served first), all of service rate ``mu``,
    infinite patience. With ``c = agents``, ``lambda_k`` the class rates, ``lambda`` their
    sum, ``a = lambda/mu``, ``rho_k = lambda_k / (c mu)`` and ``sigma_k = rho_1 + ... +
    rho_k`` (``sigma_0 = 0``), requiring ``sigma_K < 1``::

        W_k = C(c, a) / (c mu) / ((1 - sigma_{k-1}) (1 - sigma_k))

    where ``C(c, a)`` is Erlang C's probability of waiting (:func:`erlang_c`): the mean wait
    of class ``k`` over its arrivals. Every class waits with probability ``C(c, a)``: whether
    an arrival waits depends only on the number in service, which the order of service does
    not change, and arrivals see time averages (PASTA). Returns ``{"mean_wait": [W_1, ...],
    "p_wait": [C, ...]}``.

    One class is Erlang C, and the classes' mean waits average to FIFO's (the conservation
    law: the order of service does not change the work in the system):

    >>> r = cobham(10, [2.7, 6.3], 1.0)
    >>> [round(w, 4) for w in r["mean_wait"]]
    [0.0916, 0.9161]
    >>> fifo = erlang_c(10, 9.0, 1.0, 0.0)["mean_wait"]
    >>> abs((2.7 * r["mean_wait"][0] + 6.3 * r["mean_wait"][1]) / 9.0 - fifo) < 1e-12
    True
    >>> abs(cobham(10, [9.0], 1.0)["mean_wait"][0] - fifo) < 1e-12
    True
    """
    c = _check_agents(agents, 1)
    rates = [_check_rate("arrival_rate", lam, allow_zero=True) for lam in arrival_rates]
    mu = _check_rate("service_rate", service_rate)
    lam = sum(rates)
    if lam <= 0:
        raise ValueError("the classes' arrival rates must not all be 0")
    p_wait = erlang_c(c, lam, mu, 0.0)["p_wait"]  # raises when unstable
    waits, sigma = [], 0.0
    for rate in rates:
        before, sigma = sigma, sigma + rate / (c * mu)
        waits.append(p_wait / (c * mu) / ((1.0 - before) * (1.0 - sigma)))
    return {"mean_wait": waits, "p_wait": [p_wait] * len(rates)}
