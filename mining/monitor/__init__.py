"""Stage 07: the API's logged traffic watched window by window (drift, data quality, performance
before and after the outcomes arrive), and the retrain / shadow / promotion loop around it."""

SCENARIOS = ("none", "sudden", "gradual", "seasonal", "broken-column", "new-category")  # `mining traffic`
