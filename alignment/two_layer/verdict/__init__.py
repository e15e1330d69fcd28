"""A run's verdict: its tolerances, the end-state certificates (escape, region minimum, kinks,
splits, polish) and the verdict they decide. Host-side numpy; it never trains."""
