"""Shared test fixtures: paths to the reference fixtures / evaluation data and a tiny checkpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

# Triton (optional) runs its kernels through its CPU interpreter where no GPU is: set before the
# first `import triton` (core/nn_triton.py is imported lazily). On a CUDA machine the same tests
# run the compiled kernels.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Under pytest-xdist (the README's `-n 2`) each worker is a process of its own: one torch thread
# each, so that two workers on two cores do not oversubscribe them (OpenMP barriers stall when
# the cores are shared); subprocesses started by the tests inherit it.
if os.environ.get("PYTEST_XDIST_WORKER") and os.cpu_count() and \
        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) >= os.cpu_count():
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# engines built from a checkpoint record its full-content id in the engine cache
# (`content_id.recorded_content_id`): the tests' records go to a folder of their own, never the
# user's ~/.cache (subprocesses inherit it)
import tempfile  # noqa: E402

os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="mast3r_ros_test_cache_")

import sys  # noqa: E402

import ci_subset  # noqa: E402
from mast3r_test_utils import fixtures_dir, write_tiny_checkpoint  # noqa: E402


def pytest_configure(config):
    # pyproject's tmp_path_retention_policy on pytest < 7.3 (Humble's `colcon test`): see there
    import tmp_retention

    config.pluginmanager.register(tmp_retention, "mast3r_ros_tmp_retention")


# The slowest test files (idle worker seconds, `pytest -n 2 --dist loadfile --durations=0`,
# 2026-12-06), slowest first. pytest-xdist's loadfile hands files to its workers in collection
# order (alphabetical), so a slow file near the end (test_walk_work.py, ~45 s) ran alone while
# the other worker had finished: these go first, the rest keep their order after them
# (longest-first scheduling). A stale list only costs balance, never a test.
SLOW_FIRST = (
    "test_export.py", "test_walk_work.py", "test_fixed_matching.py", "test_map_v2.py",
    "test_nn_triton.py", "test_checkpoint.py", "test_map_check_focal.py",
    "test_field_cases.py", "test_map_check.py", "test_tensorrt_standin.py",
    "test_localizer.py", "test_localize_resume.py", "test_field_cases_models.py",
    "test_rosbag.py", "test_kernel_aot.py", "test_map_check_candidate_k.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    keyed = sorted(enumerate(items), key=lambda it: (
        rank.get(it[1].nodeid.split("::")[0].rsplit("/", 1)[-1], len(rank)), it[0]))
    items[:] = [item for _, item in keyed]
    # CI's compat leg (.ci/compat) runs a subset on the oldest stack: test/ci_subset.py
    listed = os.environ.get(ci_subset.ENV)
    if listed:
        try:
            drop = ci_subset.read_deselect(listed)
        except (OSError, ValueError) as e:
            raise pytest.UsageError(str(e)) from None
        gone = [item for item in items
                if item.nodeid in drop and item.get_closest_marker("compat") is None]
        if gone:
            config.hook.pytest_deselected(items=gone)
            gone_ids = {id(item) for item in gone}
            items[:] = [item for item in items if id(item) not in gone_ids]


@pytest.fixture(autouse=True)
def _root_log_level_restored():
    """A test that runs the CLI in-process (``main([... "--log-level", "error"])``) sets the
    root logger's level (`cli_console._setup_logging`) for the rest of the worker: a later test
    that reads warnings through ``caplog`` without ``set_level`` then saw none, depending on
    which files pytest-xdist gave the same worker. Each test starts, and leaves the next, at
    the level the session began with (a higher-scoped fixture's CLI run included)."""
    root = logging.getLogger()
    root.setLevel(_ROOT_LOG_LEVEL)
    yield
    root.setLevel(_ROOT_LOG_LEVEL)


_ROOT_LOG_LEVEL = logging.getLogger().level


@pytest.fixture(autouse=True)
def _tf32_screen_really_ran():
    """The Triton search's TF32 screen falls back to the plain IEEE kernel with one warning when
    it cannot run (`core.nn_triton._disable_screen`); in the tests that would silently turn every
    screened-vs-IEEE comparison into the IEEE kernel against itself. The interpreter and any GPU
    with TF32 tensor cores (compute capability 8.0+) must run it."""
    yield
    nt = sys.modules.get("mast3r_ros.core.nn_triton")
    if nt is None or nt._SCREEN_BROKEN is None:
        return
    if torch.cuda.is_available() and torch.cuda.get_device_capability() < (8, 0):
        return  # no TF32 on this GPU: the fallback is the designed behaviour
    pytest.fail(f"the TF32 screen of core/nn_triton.py could not run: {nt._SCREEN_BROKEN}")


@pytest.fixture(scope="session", autouse=True)
def _field_case_store(tmp_path_factory):
    """Where `case_inputs.make_case` keeps each field case's inputs, built once for the run:
    under pytest-xdist in the run's temp folder, above the workers' own, so that the workers
    share them too (a case is published whole by a rename)."""
    import case_inputs

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    case_inputs.STORE = base / "mast3r_ros_field_cases"
    yield
    case_inputs.STORE = None


@pytest.fixture(scope="session")
def ref_fixtures() -> Path:
    d = fixtures_dir()
    if not (d / "mast3r_tiny" / "outputs.npz").is_file():
        pytest.skip(f"reference fixtures not found at {d}")
    return d


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> str:
    """A tiny random-weight MASt3R checkpoint in the official file format (written once)."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny_mast3r.pth"
    return write_tiny_checkpoint(str(path), seed=0)


@pytest.fixture(scope="session")
def tiny_engine(tiny_ckpt):
    from mast3r_ros.core.model.engine import Mast3rEngine

    return Mast3rEngine.from_checkpoint(tiny_ckpt, device="cpu")


class _OnnxExports(dict):
    """`onnx_exports`' dict, under pytest-xdist shared by the run's workers too: a folder
    registered is also published, hard-linked (renamed into place whole), in ``shared`` (the
    run's temp folder, above the workers' own), and a key made by another worker is found there.
    With ``--dist loadfile`` test_export.py and test_tensorrt_standin.py mostly run in different
    workers, and each made the same exports (~45 s of CI for the dynamo one)."""

    def __init__(self, shared: Path | None):
        super().__init__()
        self.shared = shared

    def _published(self, key) -> Path | None:
        if self.shared is None:
            return None
        import hashlib

        path = self.shared / hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return path if path.is_dir() else None

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or self._published(key) is not None

    def __missing__(self, key):
        path = self._published(key)
        if path is None:
            raise KeyError(key)
        return str(path)

    def __setitem__(self, key, folder) -> None:
        dict.__setitem__(self, key, folder)
        if self.shared is None or self._published(key) is not None:
            return
        import hashlib
        import shutil

        def link(src, dst):  # the files are never written again: no copy of ~200 MB
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        self.shared.mkdir(exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.shared))
        shutil.rmtree(tmp)
        shutil.copytree(folder, tmp, copy_function=link)
        try:
            os.rename(tmp, self.shared / hashlib.sha256(repr(key).encode()).hexdigest()[:16])
        except OSError:  # another worker published it first
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def onnx_exports(tmp_path_factory) -> dict:
    """ONNX export folders made in this session, by (checkpoint identity, size, network shape
    (H, W), keyframe batch, exporter) -> folder: a dynamo export of the tiny network costs
    ~45 s of CI, and test_export and the TensorRT stand-in tests need the same one. Under
    pytest-xdist the workers of the run share them (`_OnnxExports`)."""
    shared = None
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the parent is this run's, shared by its workers
        shared = tmp_path_factory.getbasetemp().parent / "mast3r_ros_onnx_exports"
    return _OnnxExports(shared)


@pytest.fixture(scope="module")
def one_torch_thread():
    """The tiny network is faster single-threaded on small shared CI machines (measured 0.75 s
    vs 4.4 s per decode on 2 busy cores: OpenMP barriers stall when the cores are shared)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def rt(ref_fixtures) -> Path:
    """The retrieval_tiny reference fixture folder (MASt3R retrieval head + ASMK codebook)."""
    d = ref_fixtures / "retrieval_tiny"
    if not (d / "outputs.npz").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    return d


@pytest.fixture(scope="session")
def rt_out(rt) -> dict:
    """The reference outputs of retrieval_tiny, as a dict of arrays."""
    import numpy as np

    with np.load(rt / "outputs.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def tum(tmp_path_factory):
    """(map folder, query folder): TUM folders of the synthetic loop, 24 frames at 320x240."""
    from mast3r_ros.replay.synthetic import write_demo_sequences

    return write_demo_sequences(str(tmp_path_factory.mktemp("demo_tum")), num_frames=24,
                                width=320, height=240, seed=1)


@pytest.fixture(scope="session")
def sift_map(tum, tmp_path_factory):
    """A SIFT keyframe map of ``tum``'s map folder, built by the CLI (tests must copy it
    before changing it)."""
    from mast3r_ros.replay.cli import main

    out = str(tmp_path_factory.mktemp("demo_maps") / "map")
    assert main(["build-map", tum[0], "--out", out, "--matcher", "sift", "--log-level",
                 "warning"]) == 0
    return out
