"""The package's shape: short modules, data flowing one way, test modules independent."""

import ast
import glob
import os

from tests.helpers import REPO

MAX_LINES = 300


def sac_jax_imports(path: str) -> set[str]:
    """The sac_jax modules a file imports (`from sac_jax.x import` and `from sac_jax import x`)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sac_jax"):
            if node.module == "sac_jax":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
    return found


def module(name: str) -> str:
    return os.path.join(REPO, "sac_jax", f"{name}.py")


def test_every_module_is_short():
    long = {
        os.path.basename(p): n
        for p in glob.glob(os.path.join(REPO, "sac_jax", "*.py"))
        if (n := len(open(p).readlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_checkpointer_and_placement_know_nothing_of_the_loop_or_logs():
    host_side = {"loop", "loop_state", "session", "replay", "envs", "writers", "acting"}
    assert not sac_jax_imports(module("checkpointing")) & host_side
    assert not sac_jax_imports(module("placement")) & {"writers", "loop", "session", "workdir"}
    assert not sac_jax_imports(module("workdir")) & {"loop", "session", "checkpointing", "writers"}


def test_the_agent_core_does_not_import_the_host_side():
    host_side = {"loop", "session", "checkpointing", "writers", "workdir", "envs", "replay"}
    for name in ("state", "losses", "update", "networks"):
        assert not sac_jax_imports(module(name)) & host_side, name


def test_no_test_module_imports_another():
    for path in glob.glob(os.path.join(REPO, "tests", "test_*.py")):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("tests.test_"), (path, node.module)
