"""The kernel every feature module stands on. It imports no feature module."""
