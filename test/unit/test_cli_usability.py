"""What a robotics user expects of a command line: ``--version``, defaults in ``--help``, the
same ``--checkpoint`` on every command, ``map_path`` and ``--namespace`` from the node's
parameter file."""

import re
from importlib import metadata
from pathlib import Path

import pytest

from mast3r_ros import __version__
from mast3r_ros.replay.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_version_is_printed_from_the_package_metadata(capsys, monkeypatch):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"mast3r-ros {metadata.version('mast3r_ros')}"

    def gone(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "version", gone)  # run from a source tree, nothing installed
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"mast3r-ros {__version__}"


def test_the_version_is_written_once():
    """setup.py reads mast3r_ros.__version__ (no second literal to forget); package.xml, which
    ROS tools read and cannot read Python, says the same."""
    setup = (REPO / "setup.py").read_text()
    assert "version=read_version()" in setup and __version__ not in setup
    xml = re.search(r"<version>([^<]+)</version>", (REPO / "package.xml").read_text())
    assert xml and xml.group(1) == __version__


def _help_entries(capsys, argv):
    """{first word of the entry ('--stride', 'SOURCE'): its help text on one line} of --help."""
    with pytest.raises(SystemExit) as e:
        main([*argv, "--help"])
    assert e.value.code == 0
    entries, name = {}, None
    for line in capsys.readouterr().out.splitlines():
        if re.match(r"^  \S", line):  # an option or positional; its help may follow on lines
            name = line.split()[0].rstrip(",")  # indented deeper
            entries[name] = line
        elif name and line.startswith("   "):
            entries[name] += line
        else:
            name = None
    return {k: " ".join(v.split()) for k, v in entries.items()}


# one option per command whose default the help must show: (command, option, its default)
KNOWN_DEFAULTS = [("build-map", "--sync-tolerance", "0.02"), ("localize", "--stride", "1"),
                  ("localize", "--log-level", "info"), ("demo", "--width", "640"),
                  ("demo", "--out", "demo_out"), ("pair", "--log-level", "info"),
                  ("retrieve", "--device", "auto"), ("retrieve", "--seed", "0"),
                  ("check-map", "--log-level", "info"), ("export", "--size", "512"),
                  ("export", "--exporter", "auto"), ("merge-maps", "--log-level", "info")]


@pytest.mark.parametrize("command", sorted({c for c, _, _ in KNOWN_DEFAULTS}))
def test_help_shows_each_default_once(capsys, command):
    """`--help` said 'logging level on stderr' with no default on most commands and
    '(default 640)' on a few: every option with a default shows it, and none says it twice
    (argparse's '(default: X)' beside a hand-written one)."""
    entries = _help_entries(capsys, [command])
    for c, option, default in KNOWN_DEFAULTS:
        if c == command:
            assert f"default: {default})" in entries[option] or (
                f"'{default}' (default)" in entries[option]), entries[option]
    twice = {k: v for k, v in entries.items() if v.lower().count("default") > 1}
    assert not twice, twice
    assert "(default: None)" not in str(entries) and "(default: False)" not in str(entries)


def test_export_takes_the_checkpoint_as_ckpt_or_checkpoint(tmp_path, capsys, monkeypatch):
    """Every other command takes --checkpoint; export took only its first argument, so
    `export --checkpoint X --out D` was a usage error. Both work; neither, or two different
    ones, is one line saying what to pass, before anything is read."""
    from mast3r_ros.core.errors import CheckpointError
    from mast3r_ros.core.model import checkpoint, export

    def load(path, device="cpu", passed_as="", **_):
        raise CheckpointError(f"read {path} ({passed_as})")
    monkeypatch.setattr(export, "require_onnx", lambda exporter="auto": None)
    monkeypatch.setattr(checkpoint, "load_checkpoint", load)
    out = str(tmp_path / "onnx")

    def run(*argv):
        rc = main(["export", *argv, "--out", out])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1, err
        return err[0]
    assert "read a.pth (as CKPT: mast3r-ros export CKPT --out DIR)" in run("a.pth")
    assert "read b.pth (with --checkpoint CKPT)" in run("--checkpoint", "b.pth")
    assert "read c.pth (as CKPT" in run("c.pth", "--checkpoint", "c.pth")
    line = run("a.pth", "--checkpoint", "b.pth")
    assert "two checkpoints given, CKPT a.pth and --checkpoint b.pth: pass one" in line
    line = run()
    assert "no checkpoint given" in line and "export CKPT --out DIR" in line
    assert "--checkpoint CKPT" in line and not (tmp_path / "onnx").exists()


@pytest.fixture
def localize_stub(monkeypatch):
    """`localize` up to the run: the map it would localize against (no source read)."""
    import mast3r_ros.replay.cli as cli
    from mast3r_ros.replay import metrics, pipeline

    maps = []
    monkeypatch.setattr(cli, "_open", lambda args, cfg, keyframes=False: "source")
    monkeypatch.setattr(pipeline, "run_localization",
                        lambda source, map_path, *a, **k: maps.append(map_path) or {})
    monkeypatch.setattr(metrics, "format_table", lambda m: "")
    return maps


def _params(tmp_path, body, name="p.yaml"):
    p = tmp_path / name
    p.write_text(body)
    return str(p)


def test_localize_takes_the_map_from_map_path_in_params(tmp_path, capsys, monkeypatch,
                                                        localize_stub):
    """The node's parameter file names the map (map_path); localize still wanted --map."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run = ["localize", "bag", "--out", "run"]
    relative = _params(tmp_path, "mast3r_localizer:\n  ros__parameters:\n"
                                 "    map_path: maps/office\n")
    assert main([*run, "--params", relative]) == 0
    assert localize_stub[-1] == str(tmp_path / "maps" / "office")  # from here, not the file's
    home = _params(tmp_path, "/**:\n  ros__parameters:\n    map_path: ~/maps/lab\n", "h.yaml")
    assert main([*run, "--params", home]) == 0
    assert localize_stub[-1] == str(tmp_path / "home" / "maps" / "lab")
    assert main([*run, "--params", home, "--map", "given"]) == 0  # --map wins
    assert localize_stub[-1] == "given"
    capsys.readouterr()
    empty = _params(tmp_path, "/**:\n  ros__parameters:\n    max_keyframes: 3\n", "e.yaml")
    for argv in (run, [*run, "--params", empty]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "pass --map MAP, or --params with map_path set" in err[0], err
    assert len(localize_stub) == 3
