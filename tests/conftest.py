"""Settings for the whole suite.

Hypothesis runs without its deadline and its too-slow health check: both are wall-clock limits,
and no test here may depend on timing. On a loaded machine a property test once took 378 ms for
an example that takes 4 ms on an idle one, and failed as "flaky". Property tests assert
behaviour; speed is measured by the benchmarks (``quicko bench``).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("quicko", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("quicko")
