"""calibrate: what the data says — Bayesian models fitted to observed data (see DESIGN.md).

Cohort retention (the shifted-beta-geometric model): :mod:`cxsim.calibrate.sbg` and
:mod:`cxsim.calibrate.cohort`.
"""
