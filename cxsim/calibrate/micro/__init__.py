"""The micro-data model: the outcomes model as a PyMC likelihood of observed episodes,
surveys and churn. ``prepare`` (arrays from the data), ``model`` (the PyMC model), ``fit``
(sampling, the summary), ``draws`` (the outcomes model at posterior draws, which the forecast
reads without importing the sampling module). Nothing is imported here, so that importing
one of them costs only what it needs.
"""
