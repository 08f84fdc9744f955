"""What the source distribution carries: a colcon or pip build from it, and its tests, need the
same files as a build and a test run from the checkout (setuptools' defaults leave out tests
under test/unit/, bench/ and docs/, which the tests read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sdist_files(tmp_path) -> set:
    """The files `setup.py sdist` packs: egg_info's SOURCES.txt is the sdist's file list
    (MANIFEST.in applied), written here to ``tmp_path``, nothing built in the checkout."""
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "-e", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    sources = next(tmp_path.glob("*.egg-info")) / "SOURCES.txt"
    return set(sources.read_text(encoding="utf-8").split())


def _tracked(*patterns: str) -> set:
    return {p.relative_to(ROOT).as_posix() for pat in patterns for p in ROOT.glob(pat)
            if p.is_file() and "__pycache__" not in p.parts}


def test_sdist_carries_the_tests_and_the_files_they_read(tmp_path):
    files = _sdist_files(tmp_path)
    # .ci/: the README names its scripts and test_readme_commands checks that they exist, so a
    # test run from the unpacked sdist failed without them
    needed = _tracked("test/**/*.py", "bench/*.py", "bench/*.sh", "docs/*.md",
                      "README.md", "package.xml", "setup.cfg", "resource/mast3r_ros",
                      "launch/*.launch.py", "config/*.yaml", ".ci/*")
    assert len(needed) > 100  # the globs found the tree, not nothing
    missing = sorted(needed - files)
    assert not missing, f"the sdist lacks {len(missing)} files, e.g. {missing[:5]}"
    assert not any("__pycache__" in f or f.endswith(".pyc") for f in files)


def test_the_licence_text_ships_in_the_sdist_and_the_wheel(tmp_path):
    """setup.py, package.xml and the README say Apache-2.0, whose section 4(a) asks that every
    copy carry the licence text: the checkout had none, so neither did the sdist nor the wheel
    (setuptools packs a top-level LICENSE into both, the wheel's under dist-info/licenses)."""
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "LICENSE" in _sdist_files(tmp_path)


def _setup_kwargs(monkeypatch) -> dict:
    """What setup.py passes to setuptools.setup() for a pip build (captured, nothing built)."""
    import runpy

    import setuptools

    got = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: got.update(kw))
    monkeypatch.setattr(sys, "argv", ["setup.py", "bdist_wheel"])
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"))
    return got


def test_missing_library_hints_name_the_pip_package_setup_py_installs(monkeypatch):
    """A command missing an optional library says `pip install <package>`, the package the
    extra in setup.py installs: OpenCV's line said only `pip install -e '.[opencv]' in the
    checkout`, which a user who installed a wheel (no checkout) cannot follow."""
    import re

    from mast3r_ros.replay.cli_console import _INSTALL_HINTS, missing_library_hint

    kw = _setup_kwargs(monkeypatch)
    extras = {name: [re.split(r"[<>=!~; \[]", r, maxsplit=1)[0] for r in reqs]
              for name, reqs in kw["extras_require"].items()}
    required = [re.split(r"[<>=!~; \[]", r, maxsplit=1)[0] for r in kw["install_requires"]]
    package_of = {"cv2": extras["opencv"], "poselib": extras["poselib"],
                  "faiss": extras["faiss"], "ray": extras["ray"], "safetensors": extras["hf"],
                  "rosbags": [p for p in required if p == "rosbags"]}
    assert set(package_of) == set(_INSTALL_HINTS)
    for module, packages in package_of.items():
        assert len(packages) == 1, (module, packages)
        hint = missing_library_hint(module)
        assert f"pip install {packages[0]} " in hint + " ", hint


def _bdist_wheel_available() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) is not None
               for m in ("setuptools.command.bdist_wheel", "wheel"))


def test_the_wheel_holds_every_module_and_what_ament_python_installs(tmp_path):
    """The wheel (pip's non-editable install; colcon installs the same data_files) from a copy
    of the tree: every module of the package (find_packages leaves out a folder without
    __init__.py, which an editable checkout imports anyway), launch/, config/, package.xml and
    the ament resource marker under share/, the licence text, both entry points; no tests,
    benchmarks or docs. ~2 s."""
    import re
    import shutil
    import zipfile

    if not _bdist_wheel_available():
        import pytest
        pytest.skip("setuptools without bdist_wheel (setuptools < 70.1 and no 'wheel')")
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "install", "log", "*.egg-info", "__pycache__",
        "*.py[cod]", "test", "bench", "docs"))
    env = {k: v for k, v in os.environ.items() if k != "AMENT_PREFIX_PATH"}
    subprocess.run([sys.executable, "setup.py", "-q", "bdist_wheel", "-d", str(tmp_path / "dist")],
                   cwd=src, env=env, check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("mast3r_ros-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "mast3r_ros").rglob("*.py")
               if "__pycache__" not in p.parts}
    in_wheel = {n for n in names if n.startswith("mast3r_ros/")}
    assert len(modules) > 100
    assert in_wheel == modules, (f"missing {sorted(modules - in_wheel)[:5]}, "
                                 f"extra {sorted(in_wheel - modules)[:5]}")
    data = {n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n}
    shipped = {f"share/mast3r_ros/{p.relative_to(ROOT).as_posix()}"
               for pat in ("launch/*.launch.py", "config/*.yaml") for p in ROOT.glob(pat)}
    assert data == shipped | {"share/mast3r_ros/package.xml",
                              "share/ament_index/resource_index/packages/mast3r_ros"}
    # dist-info/licenses/ since metadata 2.4 (setuptools 70+); older wheels put it beside METADATA
    assert any(re.search(r"\.dist-info/(licenses/)?LICENSE$", n) for n in names), sorted(names)[-8:]
    assert not [n for n in names if n.split("/")[0] in ("test", "bench", "docs", ".ci")]
    assert "mast3r-ros = mast3r_ros.replay.cli:console_main" in entry_points
    assert "localizer_node = mast3r_ros.ros.node_main:main" in entry_points


def test_the_demos_covariance_note_says_its_benchmark_is_in_the_checkout():
    """The demo, run from an installed wheel, named bench/bench_covariance.py as if it were at
    hand: bench/ is in the checkout (and the sdist), not in the installed package."""
    from mast3r_ros.core.config import Config
    from mast3r_ros.replay.cli_demo import _demo_covariance_note

    note = _demo_covariance_note(Config(), {"covariance": {"position": {
        "median_mahalanobis_sq": 0.001}}})
    assert "the checkout's bench/bench_covariance.py" in note, note
    assert not (ROOT / "mast3r_ros" / "bench").exists()


# What Ubuntu 22.04 (ROS 2 Humble, the oldest ROS we support) installs for the rosdep keys in
# package.xml, as pip names them. A pip install beside them (a venv with system site packages)
# must take these as they are, not upgrade them: setup.py's floors must admit each.
HUMBLE_APT = {"numpy": "1.21.5", "scipy": "1.8.0", "pyyaml": "5.4.1", "pillow": "9.0.1",
              "matplotlib": "3.5.1", "tqdm": "4.57.0", "opencv-python-headless": "4.5.4"}


def test_the_requirement_floors_admit_humbles_system_packages(monkeypatch):
    """tqdm>=4.60 refused Humble's python3-tqdm 4.57.0, though the progress bars need nothing
    newer; and no requirement of numpy, OpenCV, torch or scipy is pinned from above."""
    from packaging.requirements import Requirement

    kw = _setup_kwargs(monkeypatch)
    reqs = [Requirement(r) for r in kw["install_requires"] + kw["extras_require"]["opencv"]]
    by_name = {r.name.lower(): r for r in reqs}
    for name, version in HUMBLE_APT.items():
        assert by_name[name].specifier.contains(version), (name, str(by_name[name]), version)
    for r in reqs + [Requirement(x) for v in kw["extras_require"].values() for x in v]:
        assert not any(s.operator in ("<", "<=", "==", "~=", "===") for s in r.specifier), str(r)
    pins = (ROOT / ".ci" / "compat-requirements.txt").read_text(encoding="utf-8")
    assert f"tqdm=={HUMBLE_APT['tqdm']}" in pins  # the compat leg tests that oldest version


# torch as NVIDIA builds it (NGC containers, JetPack wheels): a pre-release of the next version
# with a local label. pip takes an installed distribution that its specifier contains with
# pre-releases admitted (pip's resolvelib factory: `specifier.contains(version,
# prereleases=True)`); one it does not contain it replaces with the newest index release.
NVIDIA_TORCH = ("2.1.0a0+41361538.nv23.06", "2.1.0a0+32f93b1", "2.2.0a0+6a974be",
                "2.3.0a0+40ec155e58.nv24.03")


def test_the_torch_floor_keeps_nvidias_pre_release_builds(monkeypatch):
    """`torch>=2.1` did not contain 2.1.0a0+41361538.nv23.06 (PEP 440: 2.1.0a0 < 2.1), so a pip
    install beside NVIDIA's 2.1 build replaced it with PyPI's CPU/CUDA wheel (`pip install
    --dry-run` said "Would install ... torch-2.13.0"): the replacement setup.py promises never to
    make. The floor must also not opt pip into pre-releases (`>=2.1.0a0` does: where no torch is
    installed, pip then picks a nightly or release candidate over the newest release)."""
    from packaging.requirements import Requirement

    kw = _setup_kwargs(monkeypatch)
    torch = next(Requirement(r) for r in kw["install_requires"] if r.startswith("torch"))
    for version in NVIDIA_TORCH + ("2.1.0", "2.1.2", "2.13.0"):
        assert torch.specifier.contains(version, prereleases=True), (str(torch), version)
    for version in ("2.0.1", "2.0.0a0+1767026.nv23.04", "1.14.0a0+44dac51"):
        assert not torch.specifier.contains(version, prereleases=True), (str(torch), version)
    assert list(torch.specifier.filter(["2.13.0", "2.14.0a0", "2.14.0.dev20260101"])) == [
        "2.13.0"]


def test_no_requirement_opts_pip_into_pre_releases(monkeypatch):
    """A specifier naming a pre-release (`>=2.1.0a0`) lets pip choose pre-releases of that
    package wherever an index offers them, without `--pre`: no floor in setup.py may."""
    from packaging.requirements import Requirement

    kw = _setup_kwargs(monkeypatch)
    for r in kw["install_requires"] + [x for v in kw["extras_require"].values() for x in v]:
        req = Requirement(r)
        assert not req.specifier.prereleases, str(req)


# Packages with wheels for Linux only (Triton: "Currently we only support Linux", its
# maintainers, triton-lang/triton#1465).
LINUX_ONLY = {"triton"}


def test_linux_only_packages_are_marked_linux_only_in_every_extra(monkeypatch):
    """`pip install mast3r_ros[triton]` (and `[dev]`) on macOS or Windows failed on Triton,
    which has no wheel there: its requirement carries a Linux-only marker in every extra, which
    then installs nothing on those systems (the torch search serves the matching walk there)."""
    from packaging.requirements import Requirement

    kw = _setup_kwargs(monkeypatch)
    found = 0
    for extra, reqs in kw["extras_require"].items():
        for req in map(Requirement, reqs):
            if req.name.lower() not in LINUX_ONLY:
                continue
            found += 1
            assert req.marker is not None, (extra, str(req))
            for system, wanted in (("Linux", True), ("Darwin", False), ("Windows", False)):
                env = {"platform_system": system, "sys_platform": system.lower()
                       .replace("windows", "win32"), "os_name": "nt" if system == "Windows"
                       else "posix", "extra": extra}
                assert req.marker.evaluate(env) is wanted, (extra, str(req), system)
    assert found >= 2  # the triton and dev extras
    assert not any(r.split(";")[0].strip().startswith(tuple(LINUX_ONLY))
                   for r in kw["install_requires"])


def _fake_wheel(folder: Path, name: str, version: str, requires: tuple = ()) -> Path:
    """A wheel holding only its dist-info (METADATA, WHEEL, RECORD): enough for pip to install
    it and to read its name, version and requirements."""
    import base64
    import hashlib
    import zipfile

    dist = f"{name}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{dist}.dist-info/METADATA": metadata,
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
                                        "Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(path, "w") as z:
        for arcname, text in files.items():
            data = text.encode()
            z.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{arcname},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        z.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


NVIDIA_TORCH_WHEEL = "2.1.0a0+41361538.nv23.06"


def _venv_pip(tmp_path: Path, name: str, torch_wheel: bool):
    """A fresh venv (no pip of its own) and a function running this pip on it, offline and
    without the machine's pip configuration; with ``torch_wheel`` NVIDIA's torch (a fake) is
    installed from its wheel file, as NVIDIA's Jetson instructions install it."""
    import venv

    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    venv.create(tmp_path / name, with_pip=False)
    python = tmp_path / name / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def pip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args],
                              env=env, capture_output=True, text=True, timeout=300)
        if done.returncode and "no such option: --python" in done.stderr:
            import pytest
            pytest.skip("pip < 22.3 has no --python")
        assert done.returncode == 0 or not check, done.stdout + done.stderr
        return done

    if torch_wheel:
        (tmp_path / "nvidia").mkdir(exist_ok=True)
        pip("install", "--no-index", "--no-deps",
            str(_fake_wheel(tmp_path / "nvidia", "torch", NVIDIA_TORCH_WHEEL)))
    return pip


def test_pip_keeps_an_installed_nvidia_torch_and_picks_no_pre_release(tmp_path, monkeypatch):
    """pip's own resolver on setup.py's torch requirement, offline: an environment holding
    NVIDIA's 2.1.0a0+41361538.nv23.06 keeps it (`torch>=2.1` made pip replace it with the index's
    2.13.0), and an environment without torch gets the newest release, not a pre-release the
    index also offers (`>=2.1.0a0` took 2.14.0a0). Fake dist-info-only wheels; ~5 s."""
    from packaging.requirements import Requirement

    kw = _setup_kwargs(monkeypatch)
    torch = next(r for r in kw["install_requires"] if Requirement(r).name == "torch")
    index = tmp_path / "index"
    index.mkdir()
    for version in ("2.13.0", "2.14.0a0"):
        _fake_wheel(index, "torch", version)
    would = {}
    for name, nvidia in (("jetson", True), ("fresh", False)):
        pip = _venv_pip(tmp_path, name, torch_wheel=nvidia)
        out = pip("install", "--dry-run", "--no-index", "--find-links", str(index), torch).stdout
        would[name] = " ".join(line for line in out.splitlines()
                               if line.startswith("Would install"))
    assert "torch" not in would["jetson"], (torch, would["jetson"])
    assert would["fresh"] == "Would install torch-2.13.0", (torch, would["fresh"])


def test_the_keep_lines_pin_a_torch_installed_from_a_wheel_file(tmp_path, monkeypatch):
    """The README's and `export`'s line that keeps a ROS or Jetson machine's numpy and torch
    (`... | grep -iE '^(numpy|torch)==' > /tmp/keep.txt && pip install -c /tmp/keep.txt ...`)
    listed with `pip freeze`, which writes a torch installed from a wheel file or URL (NVIDIA's
    Jetson instructions) as `torch @ file:///...`: the grep dropped it and nothing pinned torch.
    Each line, run here on such a torch, keeps it, and the constraint then stops pip from
    replacing it (a package wanting a newer torch fails to resolve instead)."""
    import re

    import pytest

    from mast3r_ros.core.errors import ConfigError
    from mast3r_ros.core.model import export
    from user_docs import user_docs_text

    readme = user_docs_text()  # the Jetson line is in docs/gpu.md
    sources = [" ".join(readme.split())]
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ConfigError) as refused:
        export.require_onnx("torchscript")
    sources.append(str(refused.value))
    keep = re.compile(r"(pip [a-z =-]+?) \| grep -i ?-?E '([^']+)' > /tmp/keep\.txt")
    lines = [m.groups() for text in sources for m in keep.finditer(text)]
    assert len(lines) >= 4, lines  # README: 'Install' (ROS, Jazzy), docs/gpu.md: 'Jetson', export's
    pip = _venv_pip(tmp_path, "jetson", torch_wheel=True)
    index = tmp_path / "index"
    index.mkdir()
    _fake_wheel(index, "torch", "2.13.0")
    _fake_wheel(index, "wants_new_torch", "1.0", requires=("torch>=2.5",))
    for listing, pattern in lines:
        if "torch" not in pattern:
            continue  # Jazzy's: torch is installed after it
        out = pip(*listing.split()[1:]).stdout
        kept = [line for line in out.splitlines() if re.search(pattern, line, re.I)]
        assert any(line.startswith(f"torch=={NVIDIA_TORCH_WHEEL[:8]}") for line in kept), (
            listing, pattern, out)
        (tmp_path / "keep.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
        done = pip("install", "--dry-run", "--no-index", "--find-links", str(index), "-c",
                   str(tmp_path / "keep.txt"), "wants_new_torch", check=False)
        assert done.returncode != 0 and "torch-2.13.0" not in done.stdout, done.stdout


def test_pytest_is_named_in_the_test_extra_not_tests_require(monkeypatch):
    """`pip install -e .` warned "Unknown distribution option: 'tests_require'" three times
    (setuptools 72 removed it); colcon finds pytest in the 'test' extra."""
    kw = _setup_kwargs(monkeypatch)
    assert "tests_require" not in kw
    assert any(r.startswith("pytest") for r in kw["extras_require"]["test"])
