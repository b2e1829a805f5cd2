"""Cohort retention: the shifted-beta-geometric model of Fader & Hardie (2007), in NumPy
(``sbg``: likelihood, MLE, projections) and in PyMC (``model``: the Bayesian fit, its summary).
The cohort CSV is read by :func:`cxsim.data.load_cohorts`.
"""
