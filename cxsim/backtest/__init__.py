"""Back-tests of the what-if: worlds drawn from the prior, history fitted, a process change
forecast, then simulated and compared with the forecast (``cxsim-check mode=backtest``).

- :mod:`~cxsim.backtest.variants`: customers who do not follow the model (plug-ins to the
  engine's reactions, one small class per variant, chosen by name);
- :mod:`~cxsim.backtest.world`: one world, from its behaviour to the forecast and what happened;
- :mod:`~cxsim.backtest.run`: many worlds (resumable, parallel) and their statistics.
"""
