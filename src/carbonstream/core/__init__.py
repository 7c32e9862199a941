"""The accounting core: vectorized numpy over reading batches, no I/O."""

from carbonstream.core.batch import ReadingBatch
from carbonstream.core.engine import BatchResult, EmissionLines, Engine, SiteBuckets
from carbonstream.core.flags import Flag
from carbonstream.core.library import Factor, FactorLibrary
from carbonstream.core.state import EngineState, MeterState

__all__ = [
    "BatchResult",
    "EmissionLines",
    "Engine",
    "EngineState",
    "Factor",
    "FactorLibrary",
    "Flag",
    "MeterState",
    "ReadingBatch",
    "SiteBuckets",
]
