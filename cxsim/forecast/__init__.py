"""What-if forecasting: a study's scenarios compared under posterior uncertainty."""
