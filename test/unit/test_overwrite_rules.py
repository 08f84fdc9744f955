"""--overwrite replaces only a folder this command wrote (a fresh user lost a project folder
that happened to hold a config.yaml, and a demo's --overwrite deleted a data/ folder)."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.fileio import atomic_folder, check_output_folder, output_path
from mast3r_ros.replay.cli import main


def _tree(root) -> list:
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_project_folder_with_a_config_yaml_is_not_a_run_folder(tmp_path, tum, sift_map,
                                                                  capsys):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "config.yaml").write_text("mine: 1\n")
    (proj / "src" / "important.py").write_text("print(1)\n")
    before = _tree(proj)
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(proj), "--matcher", "sift",
                 "--overwrite", "--max-frames", "1", "--log-level", "warning"]) == 2
    err = _one_error(capsys)
    assert "is not an output of this command (it lacks results.jsonl" in err, err
    assert _tree(proj) == before


def test_a_run_folder_is_replaced(tmp_path, tum, sift_map):
    run = str(tmp_path / "run")
    argv = ["localize", tum[1], "--map", sift_map, "--out", run, "--matcher", "sift",
            "--max-frames", "1", "--log-level", "warning"]
    assert main(argv) == 0
    assert main(argv + ["--overwrite"]) == 0


@pytest.mark.parametrize("inside", [["data/measurements.csv"], ["src/main.py", "run/x.txt"]])
def test_demo_overwrite_keeps_folders_it_did_not_write(tmp_path, capsys, inside):
    proj = tmp_path / "proj"
    for rel in inside:
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        (proj / rel).write_text("precious")
    before = _tree(proj)
    assert main(["demo", "--out", str(proj), "--overwrite", "--frames", "8", "--width", "128",
                 "--height", "96"]) == 2
    err = _one_error(capsys)
    assert "not replacing it" in err and ("is not a demo scene" in err or "it holds src" in err)
    assert _tree(proj) == before


def test_markers_must_all_be_there_and_allowed_names_only():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "pairs.txt"), "w").close()
        with pytest.raises(InputError, match="it lacks similarity.npy"):
            check_output_folder(d, True, ("similarity.npy", "pairs.txt"))
        open(os.path.join(d, "similarity.npy"), "w").close()
        check_output_folder(d, True, ("similarity.npy", "pairs.txt"))
        os.mkdir(os.path.join(d, "data.rendering"))  # a demo stopped while rendering
        check_output_folder(d, True, allowed=("data.rendering", "pairs.txt", "similarity.*"))
        with pytest.raises(InputError, match=r"it holds pairs.txt\)"):
            check_output_folder(d, True, allowed=("data.rendering", "similarity.*"))


def test_merge_maps_refuses_to_write_over_one_of_its_inputs(tmp_path, sift_map, capsys):
    import shutil

    a = tmp_path / "a"
    shutil.copytree(sift_map, a)
    before = _tree(a)
    assert main(["merge-maps", str(a), sift_map, "--out", str(a), "--overwrite"]) == 2
    assert "is map A" in _one_error(capsys)
    assert _tree(a) == before


@pytest.mark.parametrize("command", ["build-map", "merge-maps"])
def test_overwrite_over_another_projects_manifest_is_refused_in_the_clis_words(
        tmp_path, tum, sift_map, capsys, command):
    """`build-map SRC --out webapp --overwrite` (webapp: a web project with a manifest.json)
    was refused as "MapWriter(overwrite=True): webapp is not a keyframe map ...", the Python
    API's words: now "--overwrite: webapp is not a keyframe map ...", as other commands say."""
    web = tmp_path / "webapp"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my web app"}')
    (web / "index.html").write_text("<html></html>")
    before = _tree(web)
    if command == "build-map":
        inputs = [tum[0], "--matcher", "sift"]
    else:
        import shutil

        inputs = [sift_map, str(shutil.copytree(sift_map, tmp_path / "b"))]
    assert main([command, *inputs, "--out", str(web), "--overwrite"]) == 2
    err = _one_error(capsys)
    assert err.startswith(f"mast3r-ros {command}: error: --overwrite: {web} is not a keyframe "
                          "map (no mast3r_ros.keyframe_map manifest.json; it holds index.html, "
                          "manifest.json)"), err
    assert "MapWriter" not in err and "choose another --out" in err
    assert _tree(web) == before


def test_demo_over_a_render_an_older_version_stopped_and_over_copied_run_files(tmp_path, capsys,
                                                                             tum, sift_map):
    from mast3r_ros.replay.demo import demo_data
    from mast3r_ros.replay.localize_run import RUN_OUTPUTS

    # a run's files copied into a project folder beside the user's own: not a run folder
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    for name in RUN_OUTPUTS:
        (proj / name).write_text("x")
    (proj / "src" / "main.py").write_text("precious")
    before = _tree(proj)
    assert main(["localize", tum[1], "--map", sift_map, "--out", str(proj), "--matcher", "sift",
                 "--overwrite", "--max-frames", "1", "--log-level", "warning"]) == 2
    assert "(it holds src)" in _one_error(capsys)
    assert _tree(proj) == before
    # an older demo rendered in place: data/ holds map/ and query/ but no done.json yet
    data = tmp_path / "demo" / "data"
    (data / "map").mkdir(parents=True)
    (data / "map" / "rgb.txt").write_text("# half written\n")
    dirs = demo_data(str(data), 4, 64, 48, 0)
    assert (data / "done.json").is_file() and all(os.path.isdir(d) for d in dirs)


def test_an_out_that_is_a_link_keeps_the_link_and_replaces_its_folder(tmp_path, tum, sift_map):
    runs = tmp_path / "runs"
    runs.mkdir()
    argv = ["localize", tum[1], "--map", sift_map, "--matcher", "sift", "--max-frames", "1",
            "--log-level", "warning"]
    assert main(argv + ["--out", str(runs / "r1")]) == 0
    link = tmp_path / "latest"
    link.symlink_to(runs / "r1", target_is_directory=True)
    (runs / "r1" / "results.jsonl").write_text("")  # changed: the rerun must replace it
    assert main(argv + ["--out", str(link) + "/", "--overwrite"]) == 0
    assert link.is_symlink() and os.path.realpath(link) == str(runs / "r1")
    assert (runs / "r1" / "results.jsonl").read_text()  # the new run is behind the link


def test_output_path_resolves_only_a_link_to_a_folder(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "to_real").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "to_none").symlink_to(tmp_path / "none", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    assert output_path("to_real/") == output_path("to_real") == str(tmp_path / "real")
    assert output_path("to_none") == str(tmp_path / "to_none")  # refused later as no folder
    assert output_path("plain/") == str(tmp_path / "plain")
    # atomic_folder (every CLI output) publishes behind the link and keeps it
    (tmp_path / "real" / "a.txt").write_text("old")
    with atomic_folder("to_real", overwrite=True, markers=("a.txt",)) as tmp:
        with open(os.path.join(tmp, "a.txt"), "w") as fh:
            fh.write("new")
    assert (tmp_path / "to_real").is_symlink()
    assert (tmp_path / "real" / "a.txt").read_text() == "new"



def test_build_map_overwrite_keeps_a_map_holding_a_localization_run(tmp_path, tum, sift_map,
                                                                    capsys):
    """``localize --out MAP/run1`` puts a run inside the map; rebuilding the map with
    --overwrite deleted it. Now exit 2, one line naming it, and the map and run are kept."""
    import shutil

    m = tmp_path / "map"
    shutil.copytree(sift_map, m)
    assert main(["localize", tum[1], "--map", str(m), "--out", str(m / "run1"), "--matcher",
                 "sift", "--log-level", "warning"]) == 0
    capsys.readouterr()
    before = _tree(m)
    assert main(["build-map", tum[0], "--out", str(m), "--overwrite", "--matcher", "sift"]) == 2
    err = _one_error(capsys)
    assert "also holds run1/" in err and "move them out of the map folder" in err
    assert _tree(m) == before


def test_demo_overwrite_stopped_while_localizing_leaves_no_run_of_the_old_map(tmp_path,
                                                                             monkeypatch):
    """`demo --overwrite` replaced the map, then the run: a Ctrl-C while localizing left the
    new map beside the old map's run (its metrics describing a map no longer there)."""
    import dataclasses

    from mast3r_ros.core.config import Config
    from mast3r_ros.replay import demo

    cfg = Config()
    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--frames", "8", "--width", "128", "--height", "96",
            "--log-level", "warning"]
    assert main(argv) == 0
    old_map = (out / "map" / "manifest.json").stat().st_mtime_ns
    assert (out / "run" / "metrics.json").is_file()

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_localization", stopped)
    with pytest.raises(KeyboardInterrupt):
        demo.run_demo(str(out), cfg, 8, 128, 96, 0, overwrite=True)
    assert (out / "map" / "manifest.json").stat().st_mtime_ns != old_map  # the new map
    assert not (out / "run").exists()  # and not the old map's run beside it


def test_an_out_that_is_a_mount_point_is_refused_before_any_work(tmp_path, tum, monkeypatch,
                                                                   capsys):
    """`docker run -v $PWD/maps:/maps ... build-map --out /maps --overwrite` (an empty volume):
    the map was built (every frame read, the keyframes checked), then its rename onto the mount
    point failed with 'cannot use path: /maps: Device or resource busy'. Without --overwrite the
    error said to pass --overwrite, which cannot help. Now it is refused first, naming a folder
    inside it."""
    out = tmp_path / "volume"
    out.mkdir()
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: p == str(out) or real_ismount(p))

    for extra in ([], ["--overwrite"]):
        assert main(["build-map", tum[0], "--out", str(out), "--matcher", "sift",
                     "--log-level", "warning", *extra]) == 2
        err = _one_error(capsys)
        assert f"--out {out} is a mount point" in err and f"--out {out}/NAME" in err, err
        assert "--overwrite" not in err, err
    assert os.listdir(out) == [], os.listdir(out)


def test_a_read_only_mount_point_out_is_not_told_to_write_inside_it(tmp_path, monkeypatch):
    """A map folder mounted read-only (a robot's maps) given as --out was told "give a folder
    inside it (--out MAP/NAME)", which is then refused as read-only (a fleet maintainer's
    find): it is now told to choose an --out on a writable file system."""
    import types

    out = tmp_path / "ro"
    out.mkdir()
    real_ismount, real_statvfs = os.path.ismount, os.statvfs
    monkeypatch.setattr(os.path, "ismount", lambda p: p == str(out) or real_ismount(p))
    monkeypatch.setattr(os, "statvfs", lambda p: types.SimpleNamespace(
        f_flag=os.ST_RDONLY) if p == str(out) else real_statvfs(p))
    with pytest.raises(InputError) as err:
        check_output_folder(str(out), True, ("manifest.json",))
    text = str(err.value)
    assert f"--out {out} is a mount point" in text and "mounted read-only" in text, text
    assert "NAME" not in text and "file system you can write to" in text, text


@pytest.mark.parametrize("manifest", ["loop", "folder"])
def test_overwrite_refuses_a_map_folder_whose_manifest_cannot_be_read(tmp_path, tum, sift_map,
                                                                      capsys, manifest):
    """A manifest.json that is a symbolic link loop (or a folder) was taken for a damaged map's
    (one that does not parse, beside keyframes/) and the folder replaced without a word: what it
    is cannot be told, so it is refused by name, the map API's check as well."""
    import shutil

    from mast3r_ros.core.keyframes import MapWriter

    out = tmp_path / "m"
    shutil.copytree(sift_map, out)
    (out / "manifest.json").unlink()
    if manifest == "loop":
        (out / "manifest.json").symlink_to("manifest.json")
    else:
        (out / "manifest.json").mkdir()
    before = _tree(out)
    assert main(["build-map", tum[0], "--matcher", "sift", "--out", str(out),
                 "--overwrite"]) == 2
    err = _one_error(capsys)
    assert f"--overwrite: the manifest.json of {out} cannot be read (" in err, err
    assert "not replacing it" in err and "choose another --out" in err
    assert _tree(out) == before and os.path.lexists(out / "manifest.json")
    with pytest.raises(InputError, match=r"MapWriter\(overwrite=True\): the manifest.json of"):
        MapWriter(str(out), overwrite=True)


def test_an_out_that_is_no_output_of_the_command_is_not_told_to_pass_overwrite(tmp_path):
    """`localize --out MAP` (the map folder) or `build-map --out RUN` was told 'output folder
    already exists (pass --overwrite to replace it ...)', and with --overwrite refused as 'not an
    output of this command': the first message now says so and suggests no --overwrite."""
    out = tmp_path / "map"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    (out / "keyframes").mkdir()
    markers = ("results.jsonl", "metrics.json")
    with pytest.raises(InputError) as err:
        check_output_folder(str(out), False, markers)
    assert str(err.value) == (
        f"output folder already exists: {out}, and it is not an output of this command (it is "
        "a keyframe map: it holds manifest.json, not results.jsonl, metrics.json), which "
        "--overwrite would not replace either: choose another --out")
    for m in markers:
        (out / m).write_text("")
    with pytest.raises(InputError, match=r"already exists: .*map \(pass --overwrite to replace"):
        check_output_folder(str(out), False, markers)
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output_folder(str(empty), False, markers)  # an empty folder: written without it


def test_a_map_holding_a_run_is_not_told_to_pass_overwrite(tmp_path, sift_map):
    """build-map --out MAP, where MAP holds a run (`localize --out MAP/run1`), said 'pass
    --overwrite', which was then refused ('also holds run1/'): it now says that at once."""
    import shutil

    from mast3r_ros.core.keyframes.target import check_map_out

    m = tmp_path / "map"
    shutil.copytree(sift_map, m)
    with pytest.raises(InputError, match=r"already exists: .*map \(pass --overwrite to replace"):
        check_map_out(str(m), False)
    (m / "run1").mkdir()
    with pytest.raises(InputError) as err:
        check_map_out(str(m), False)
    assert str(err.value).startswith(
        f"output folder already exists: {m}, and --overwrite would not replace it: the map {m} "
        "also holds run1/, which no map build writes"), str(err.value)
    assert "pass --overwrite" not in str(err.value)


def test_an_existing_out_that_cannot_be_listed_is_refused_as_existing(tmp_path, monkeypatch):
    """Listing the folder to tell whether --overwrite could replace it must not turn the
    one-line refusal into an uncaught PermissionError (a folder of another user)."""
    out = tmp_path / "theirs"
    out.mkdir()
    real = os.listdir

    def listdir(path="."):
        if os.fspath(path) == str(out):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    with pytest.raises(InputError, match=r"already exists: .*theirs \(pass --overwrite"):
        check_output_folder(str(out), False, ("manifest.json",))


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_given_as_a_maps_out_is_named_as_a_run(tmp_path, overwrite):
    """`build-map --out runs/r1 --overwrite` said only "it lacks manifest.json" (a fleet
    maintainer's find): the folder is named for what it is, a localize run, and kept."""
    run = tmp_path / "r1"
    run.mkdir()
    for name in ("results.jsonl", "metrics.json", "config.yaml"):
        (run / name).write_text("{}")
    with pytest.raises(InputError) as err:
        check_output_folder(str(run), overwrite, ("manifest.json", "keyframes"))
    assert "(it is a localize run's output: it holds results.jsonl, not manifest.json, " \
           "keyframes)" in str(err.value), str(err.value)
    assert sorted(os.listdir(run)) == ["config.yaml", "metrics.json", "results.jsonl"]
