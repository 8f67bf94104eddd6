"""Real-time scoring: one payment at a time, with the batch run's own indicators.

- :mod:`.payload` reads one record (JSON in a CSV format of the contract, or pacs.008);
- :mod:`.definitions` records and compiles the batch stage's SQL (:mod:`.sqlcompile`);
- :mod:`.subjects` keeps each subject's aggregates current (:mod:`.state`: in process or Redis);
- :mod:`.engine` scores and decides; :mod:`.api` serves ``POST /score``.

See docs/realtime.md.
"""

from moneytrail.realtime.engine import Engine, Thresholds

__all__ = ["Engine", "Thresholds"]
