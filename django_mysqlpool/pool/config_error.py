"""The error a pool setting that cannot work raises (its own module: both the settings'
rules and the pool class loader raise it, and neither needs the driver imported)."""


class ConfigError(ValueError):
    """A pool setting is invalid; the message names it and says how to fix it."""
