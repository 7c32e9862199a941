"""carbonstream: real-time Scope 1 / Scope 2 carbon accounting for factories."""

from carbonstream.errors import CarbonstreamError, ConfigError, FactorError, ReadingsError

__version__ = "0.1.0"

__all__ = ["CarbonstreamError", "ConfigError", "FactorError", "ReadingsError", "__version__"]
