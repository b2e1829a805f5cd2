"""calibrate: what the data say - Bayesian models fitted to observed data.

- :mod:`cxsim.calibrate.micro`: the micro-data model (the outcomes model as a likelihood of
  CRM episodes, surveys and churn): ``prepare`` the arrays, ``model`` the PyMC model,
  ``fit`` sampling and the summary, ``draws`` the outcomes model at posterior draws;
- :mod:`cxsim.calibrate.cohort`: cohort retention, the shifted-beta-geometric model
  (``sbg`` in NumPy, ``model`` in PyMC);
- :mod:`cxsim.calibrate.store`: a fit's identity (model and data hashes) and its saved
  posterior; :mod:`cxsim.calibrate.diagnostics`: the sampler checks every fit passes;
- :mod:`cxsim.calibrate.check`: the calibration gates of ``cxsim-check``;
  :mod:`cxsim.calibrate.sbc`: simulation-based calibration; :mod:`cxsim.calibrate.link`: the
  engine's customers against an sBG fit.
"""
