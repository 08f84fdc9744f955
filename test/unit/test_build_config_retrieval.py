"""A map's build_config.yaml left out the retrieval checkpoint and codebook it was built with
(--retrieval-checkpoint): given back as --params it rebuilt without ASMK, and localize with it
never used the map's ASMK index (a fresh-user review's find)."""

from __future__ import annotations

import os

import pytest

from mast3r_ros.core.config import load_config_yaml
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.replay.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PARAMS = ("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n    device: cpu\n"
          "    map_build: {min_translation_m: 0.5}\n    scale: {chunk_size: 2}\n")


def test_build_config_names_the_retrieval_files_and_works_as_params(tmp_path, tum,
                                                                   ref_fixtures):
    rt = ref_fixtures / "retrieval_tiny"
    if not (rt / "ckpt.pth").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    backbone = str(ref_fixtures / "mast3r_tiny" / "ckpt.pth")
    params = tmp_path / "p.yaml"
    params.write_text(PARAMS)
    out = tmp_path / "m"
    assert main(["build-map", tum[0], "--out", str(out), "--checkpoint", backbone, "--params",
                 str(params), "--retrieval-checkpoint", str(rt / "ckpt.pth"), "--codebook",
                 str(rt / "codebook.pkl"), "--log-level", "warning"]) == 0
    cfg = load_config_yaml(str(out / "build_config.yaml"))
    assert cfg.retrieval.checkpoint == os.path.abspath(rt / "ckpt.pth")
    assert cfg.retrieval.codebook == os.path.abspath(rt / "codebook.pkl")
    # the map given back as --retrieval-checkpoint names the one it records
    from mast3r_ros.core.errors import CheckpointError
    from mast3r_ros.core.retrieval_model import check_retrieval_files

    with pytest.raises(CheckpointError) as e:
        check_retrieval_files(str(out))
    assert (f"it was built with {os.path.abspath(rt / 'ckpt.pth')} (as its build_config.yaml "
            "records): pass that file") in str(e.value), str(e.value)
    # given back as --params, the rebuild has the ASMK index again
    again = tmp_path / "again"
    assert main(["build-map", tum[0], "--out", str(again), "--params",
                 str(out / "build_config.yaml"), "--log-level", "warning"]) == 0
    assert KeyframeMap.load(str(again)).asmk_keys() == KeyframeMap.load(str(out)).asmk_keys()
    assert KeyframeMap.load(str(out)).asmk_keys()


def test_codebook_flag_applies_and_a_missing_params_checkpoint_is_named(tmp_path, tum,
                                                                         ref_fixtures, capsys):
    """With retrieval.checkpoint taken from --params, a given --codebook was overwritten by the
    params' (a missing one built with the default codebook, exit 0); a robot's params naming
    a checkpoint not on this machine failed without naming --params or a way on."""
    rt = ref_fixtures / "retrieval_tiny"
    if not (rt / "ckpt.pth").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    backbone = str(ref_fixtures / "mast3r_tiny" / "ckpt.pth")
    params = tmp_path / "p.yaml"
    params.write_text(PARAMS + f"    retrieval: {{checkpoint: '{rt / 'ckpt.pth'}', codebook: "
                               f"'{rt / 'codebook.pkl'}'}}\n")
    argv = ["build-map", tum[0], "--checkpoint", backbone, "--params", str(params),
            "--log-level", "warning"]
    assert main(argv + ["--out", str(tmp_path / "a"), "--codebook",
                        str(tmp_path / "none.pkl")]) == 2
    assert "none.pkl" in capsys.readouterr().err
    robot = tmp_path / "robot.yaml"
    robot.write_text(PARAMS + "    retrieval: {checkpoint: /opt/robot/retr_trainingfree.pth}\n")
    argv[argv.index(str(params))] = str(robot)
    assert main(argv + ["--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "/opt/robot/retr_trainingfree.pth (retrieval.checkpoint of --params)" in err, err
    assert "--retrieval-checkpoint ''" in err
    assert main(argv + ["--out", str(tmp_path / "c"), "--retrieval-checkpoint", ""]) == 0
    assert not KeyframeMap.load(str(tmp_path / "c")).asmk_keys()
    assert load_config_yaml(str(tmp_path / "c" / "build_config.yaml")).retrieval.checkpoint == ""


def test_a_codebook_for_a_build_without_an_asmk_index_is_refused(tmp_path):
    """`build-map REC --matcher sift --codebook C` (or without --retrieval-checkpoint) built the
    map without a word and without the index the user asked for, while a
    --retrieval-checkpoint there is refused: the codebook is refused too, saying why."""
    import dataclasses

    from mast3r_ros.core.config import Config
    from mast3r_ros.core.errors import InputError
    from mast3r_ros.replay.map_build import build_retrieval

    cfg = Config()
    sift = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer, matcher="sift"))
    with pytest.raises(InputError, match=r"--codebook c\.pkl: .*no --retrieval-checkpoint"):
        build_retrieval(sift, None, "c.pkl")
    with pytest.raises(InputError, match=r"--retrieval-checkpoint '' builds no ASMK index"):
        build_retrieval(cfg, "", "c.pkl")
    with_params = dataclasses.replace(sift, retrieval=dataclasses.replace(
        sift.retrieval, checkpoint=str(tmp_path / "r.pth")))
    with pytest.raises(InputError, match=r"encodes no keyframes \(--matcher sift, no --check"):
        build_retrieval(with_params, None, "c.pkl")
    assert build_retrieval(sift, None, None) == (sift, None, None)  # nothing asked: unchanged


def test_params_retrieval_files_under_home_are_found(tmp_path, ref_fixtures, monkeypatch):
    """``retrieval.checkpoint: ~/R_retrieval_trainingfree.pth`` in build-map's --params (as the
    node and localize read it) was refused as "retrieval checkpoint not found: ~/R_..." though
    the file was there: '~' was expanded for one check and not for the next."""
    import shutil

    from mast3r_ros.replay.map_build import BuildOptions, build_retrieval, check_build_files

    rt = ref_fixtures / "retrieval_tiny"
    if not (rt / "ckpt.pth").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    home = tmp_path / "home"
    (home / "cb").mkdir(parents=True)
    shutil.copy(rt / "ckpt.pth", home / "R_retrieval_trainingfree.pth")
    shutil.copy(rt / "codebook.pkl", home / "cb" / "own.pkl")
    monkeypatch.setenv("HOME", str(home))
    params = tmp_path / "p.yaml"
    params.write_text(PARAMS + f"    checkpoint: '{ref_fixtures / 'mast3r_tiny' / 'ckpt.pth'}'\n"
                      "    retrieval: {checkpoint: ~/R_retrieval_trainingfree.pth, "
                      "codebook: ~/cb/own.pkl}\n")
    cfg, checkpoint, codebook = build_retrieval(load_config_yaml(str(params)), None, None)
    check_build_files(cfg, BuildOptions(retrieval_checkpoint=checkpoint, codebook=codebook))
    assert checkpoint == str(home / "R_retrieval_trainingfree.pth")
    assert codebook == cfg.retrieval.codebook == str(home / "cb" / "own.pkl")
    # a codebook left empty is the one beside the expanded checkpoint
    shutil.copy(rt / "codebook.pkl", home / "R_retrieval_codebook.pkl")
    params.write_text(params.read_text().replace(", codebook: ~/cb/own.pkl", ""))
    cfg, checkpoint, codebook = build_retrieval(load_config_yaml(str(params)), None, None)
    assert cfg.retrieval.codebook == str(home / "R_retrieval_codebook.pkl")
    check_build_files(cfg, BuildOptions(retrieval_checkpoint=checkpoint, codebook=codebook))
