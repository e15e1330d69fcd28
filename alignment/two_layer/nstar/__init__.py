"""The n* estimator: the crossing of p(n) = 1/2, its bootstrap interval, and power-law fits."""
