import jax
import ml_collections
import pytest

from sac_jax import loop
from tests import tiny
from tests.helpers import small_config


@pytest.fixture
def tiny_config() -> ml_collections.ConfigDict:
    return tiny.tiny_config()


class CompileCounter:
    """Counts XLA backend compilations while active (JAX reports each through jax.monitoring)."""

    EVENT = "/jax/core/compile/backend_compile_duration"

    def __init__(self):
        self.count = 0
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._on_event)

    def _on_event(self, name, duration, **kwargs):
        if self.active and name == self.EVENT:
            self.count += 1

    def __enter__(self):
        self.count, self.active = 0, True
        return self

    def __exit__(self, *exc):
        self.active = False


_COUNTER = None


@pytest.fixture
def compile_counter() -> CompileCounter:
    global _COUNTER
    if _COUNTER is None:
        _COUNTER = CompileCounter()
    return _COUNTER


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory):
    """Seeds 3 and 4 in one process, 300 steps (updates from step 100), checkpoints at 150 and 300."""
    workdir = str(tmp_path_factory.mktemp("two_seeds"))
    loop.train(small_config(seed=3, num_seeds=2), workdir, quiet=True)
    return workdir
