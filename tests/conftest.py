"""Test configuration shared by every suite under tests/: the oracle, Hypothesis profiles, header.

* TensorFlow is the oracle and is imported here, once, with oneDNN off (tests/oracle.py).
  On CI (``CI=true``) a TensorFlow that cannot be imported stops the run at collection: a
  silently skipped oracle would make a green CI meaningless. Locally, tests that need it skip
  with the import error as the reason.
* Hypothesis profiles are chosen by ``HYPOTHESIS_PROFILE`` (scripts/test.sh sets ``ci`` on CI,
  ``dev`` otherwise). Every settings key is set explicitly in every profile: since 2024
  Hypothesis derandomizes its *default* profile when ``CI`` is set, and a profile that leaves a
  key out inherits whatever that default happens to be.
"""

from __future__ import annotations

import os
from pathlib import Path

# Before anything can import TensorFlow (another suite's conftest, a test module): oneDNN off.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, Verbosity, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402

import oracle  # noqa: E402

ON_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- Hypothesis profiles
_COMMON = dict(
    # TF calls cost milliseconds and the first one in a process much more: no deadline.
    deadline=None,
    # Failures print a @reproduce_failure blob as well as our own repro call.
    print_blob=True,
    report_multiple_bugs=True,
    stateful_step_count=50,
    # too_slow: examples call TensorFlow; data_too_large: shapes are bounded by construction.
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    verbosity=Verbosity.normal,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink, Phase.explain),
    backend="hypothesis",
)
_LOCAL_DATABASE = DirectoryBasedExampleDatabase(str(ROOT / ".hypothesis" / "examples"))

# dev: a quick edit-run loop (~25 examples per property, random, remembers failures).
settings.register_profile("dev", max_examples=25, derandomize=False, database=_LOCAL_DATABASE, **_COMMON)
# ci: 200 examples per property, derandomized. CI gates whether a submission lands, so a red run
# must be reproducible by anyone who reruns the same command, and a green one must not turn red
# on a rerun of unchanged code. Exploring new random examples is what `thorough` is for.
# No database: a clean clone has none and writes would be thrown away.
settings.register_profile("ci", max_examples=200, derandomize=True, database=None, **_COMMON)
# thorough: 1000 random examples per property, for a long local run before a release.
settings.register_profile("thorough", max_examples=1000, derandomize=False, database=_LOCAL_DATABASE, **_COMMON)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
if PROFILE not in ("dev", "ci", "thorough"):
    raise pytest.UsageError(f"HYPOTHESIS_PROFILE must be one of dev, ci, thorough; got {PROFILE!r}")
settings.load_profile(PROFILE)

# --------------------------------------------------------------------------- the oracle
try:
    oracle.load()
    TF_ERROR = None
except (ImportError, RuntimeError) as exc:
    TF_ERROR = exc
    if ON_CI:
        # A failure, never a skip, on CI.
        raise RuntimeError(f"CI=true but TensorFlow, the test oracle, cannot be imported: {exc}") from exc


@pytest.fixture(scope="session")
def tf():
    """The TensorFlow module (oneDNN off); skips locally when it is missing."""
    if TF_ERROR is not None:
        pytest.skip(f"TensorFlow (the oracle) is not importable here: {TF_ERROR}")
    return oracle.load()


def pytest_collection_modifyitems(config, items):
    # Tests marked `tf` need the oracle even when they do not take the fixture.
    if TF_ERROR is None:
        return
    skip = pytest.mark.skip(reason=f"TensorFlow (the oracle) is not importable here: {TF_ERROR}")
    for item in items:
        if "tf" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    import convops

    current = settings.get_profile(PROFILE)
    tf_version = oracle.version() or f"NOT AVAILABLE ({TF_ERROR})"
    return [
        f"hypothesis profile: {PROFILE} (max_examples={current.max_examples}, "
        f"derandomize={current.derandomize}, database={'on' if current.database else 'off'})",
        f"oracle: tensorflow {tf_version}, TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS')}",
        f"convops {convops.__version__}: OpenMP {'enabled' if convops.openmp_enabled() else 'DISABLED'}, "
        f"{convops.get_num_threads()} thread(s); numpy {np.__version__}; CI={'true' if ON_CI else 'false'}",
    ]
