"""cxsim: customer-journey simulation and what-if modelling."""
