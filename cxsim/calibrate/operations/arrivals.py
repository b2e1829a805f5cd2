"""Arrival rates by weekday x interval of the day, with exact intervals and a dispersion check.

For weekday w and interval k (``interval_min`` long) of the day, over the ``n_w`` observed
days of that weekday (missing days count in no exposure, so a lost day or week does not bias
the rates):

    rate_wk = (sum of the counts x_dwk over those days) / (n_w * interval_min / 60)  per hour

with the exact Poisson (Garwood) interval. If arrivals are Poisson with that rate, the counts
of one cell over days are Poisson with one mean, and the index of dispersion
``D_wk = sum_d (x_dwk - mean)^2 / mean`` is about chi-square with ``n_w - 1`` degrees of
freedom. Summed over cells with at least two days and a mean of at least one contact (where
the approximation holds), ``D / df`` near 1 and a large p-value are consistent with Poisson;
``D / df`` well above 1 is over-dispersion (day-to-day swings: the intervals above are then
too narrow, and a scenario should vary its daily volume).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from cxsim.calibrate.operations.cis import finite, poisson_ci
from cxsim.data.contacts.canonical import MIN_PER_DAY, WEEKDAYS, Calendar

INTERVALS_MIN = (15, 30, 60)


@dataclass
class Dispersion:
    """The pooled index-of-dispersion test against Poisson (see the module doc)."""

    statistic: float
    df: int
    cells: int

    @property
    def ratio(self) -> float:
        return self.statistic / self.df if self.df else float("nan")

    @property
    def p_value(self) -> float:
        return float(stats.chi2.sf(self.statistic, self.df)) if self.df else float("nan")

    def to_json(self) -> dict:
        return {"statistic": finite(self.statistic), "df": self.df, "cells": self.cells,
                "ratio": finite(self.ratio), "p_value": finite(self.p_value),
                "test": "index of dispersion of daily counts per weekday x interval"}


@dataclass
class ArrivalRates:
    """Rates per hour by weekday (Monday first) x interval, over the observed days."""

    interval_min: int
    counts: np.ndarray  # (7, slots) contacts summed over the observed days
    days: np.ndarray  # (7,) observed days of each weekday
    rate_per_hour: np.ndarray  # (7, slots); NaN for a weekday never observed
    ci_low: np.ndarray
    ci_high: np.ndarray
    daily: np.ndarray  # (n_days, slots) counts per day; NaN on missing days
    dispersion: Dispersion
    level: float

    @property
    def slots(self) -> int:
        return self.counts.shape[1]

    def to_json(self) -> dict:
        def rows(a: np.ndarray) -> list:
            return [[finite(x) for x in row] for row in a]

        return {
            "interval_min": self.interval_min, "weekdays": list(WEEKDAYS),
            "interval_start_min": [k * self.interval_min for k in range(self.slots)],
            "rate": rows(self.rate_per_hour), "ci_low": rows(self.ci_low),
            "ci_high": rows(self.ci_high), "level": self.level,
            "count": self.counts.astype(int).tolist(), "observed_days": self.days.tolist(),
            "dispersion": self.dispersion.to_json(),
        }


def daily_counts(arrival_min: np.ndarray, n_days: int, interval_min: int) -> np.ndarray:
    """(n_days, slots) counts of arrivals per day and interval of the day."""
    slots = int(MIN_PER_DAY // interval_min)
    cell = np.floor(arrival_min / interval_min).astype(np.int64)
    cell = cell[(cell >= 0) & (cell < n_days * slots)]
    return np.bincount(cell, minlength=n_days * slots).reshape(n_days, slots).astype(float)


def arrival_rates(arrival_min: np.ndarray, calendar: Calendar, interval_min: int = 60,
                  level: float = 0.95) -> ArrivalRates:
    """Arrival rates of contacts arriving at ``arrival_min`` (minutes since the origin)."""
    if interval_min not in INTERVALS_MIN:
        raise ValueError(f"interval_min must be one of {INTERVALS_MIN}; got {interval_min!r}")
    daily = daily_counts(np.asarray(arrival_min, float), calendar.n_days, interval_min)
    daily[~calendar.observed] = np.nan
    weekday = calendar.weekday(np.arange(calendar.n_days))
    slots = daily.shape[1]
    counts, days = np.zeros((7, slots)), np.zeros(7, dtype=np.int64)
    statistic, df, cells = 0.0, 0, 0
    for w in range(7):
        x = daily[(weekday == w) & calendar.observed]
        days[w] = len(x)
        counts[w] = x.sum(axis=0)
        if len(x) >= 2:
            mean = x.mean(axis=0)
            ok = mean >= 1.0
            statistic += float((((x - mean) ** 2).sum(axis=0)[ok] / mean[ok]).sum())
            df += int(ok.sum()) * (len(x) - 1)
            cells += int(ok.sum())
    hours = days[:, None] * interval_min / 60.0 * np.ones((1, slots))
    lo, hi = poisson_ci(counts, hours, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(hours > 0, counts / hours, np.nan)
    return ArrivalRates(interval_min, counts, days, rate, lo, hi, daily,
                        Dispersion(statistic, df, cells), level)
