"""`mast3r-ros retrieve` end to end on the retrieval_tiny fixture (tiny backbone, 6 images)."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.pairing import make_pairs
from mast3r_ros.replay.cli import main

IMAGES = ["mast3r_tiny/img1.png", "mast3r_tiny/img2.png", "images/portrait1.png",
          "images/portrait2.png", "preproc/tower_landscape_s512.png",
          "preproc/chateau1_rgba_square.png"]


@pytest.fixture(scope="module")
def paths(ref_fixtures):
    rt = ref_fixtures / "retrieval_tiny"
    if not (rt / "outputs.npz").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    imgs = [str(ref_fixtures / p) for p in IMAGES]
    return imgs, str(ref_fixtures / "mast3r_tiny" / "ckpt.pth"), rt


@pytest.fixture
def prepared_sizes(monkeypatch):
    """The size each image is prepared at by the engine (`Mast3rEngine.prepare`), in order."""
    from mast3r_ros.core.model.engine import Mast3rEngine

    sizes = []
    prepare = Mast3rEngine.prepare

    def spy(self, img, size, *a, **k):
        sizes.append(size)
        return prepare(self, img, size, *a, **k)

    monkeypatch.setattr(Mast3rEngine, "prepare", spy)
    return sizes


def test_retrieve_end_to_end_matches_reference(paths, tmp_path, one_torch_thread, capsys):
    imgs, ckpt, rt = paths
    out = tmp_path / "out"
    with np.load(rt / "outputs.npz") as z:
        ref_sim, seeds = z["sim"], z["start_seed"]
    rc = main(["retrieve", *imgs, "--checkpoint", ckpt, "--retrieval-checkpoint",
               str(rt / "ckpt.pth"), "--codebook", str(rt / "codebook.pkl"), "--out", str(out),
               "--pairs", "retrieval-6-5", "--seed", str(int(seeds[3]))])
    assert rc == 0
    sim = np.load(out / "similarity.npy", allow_pickle=False)
    assert sim.shape == (6, 6) and sim.dtype == np.float64
    np.testing.assert_allclose(sim, ref_sim, rtol=0, atol=1e-5)
    lines = (out / "pairs.txt").read_text().splitlines()
    expected = [(i, j) for i, j in make_pairs(6, "retrieval-6-5", ref_sim.astype(np.float64),
                                              start=3) if i != j]
    assert lines == [f"{imgs[i]} {imgs[j]}" for i, j in expected]
    assert capsys.readouterr().out == (f"retrieve {out}: similarity 6x6, {len(expected)} pairs "
                                       "-> pairs.txt, similarity.npy\n")


def test_retrieve_size_sets_the_network_input(paths, tmp_path, one_torch_thread, prepared_sizes):
    """--size 224 encodes every image at 224 (a 224x224 centre crop): the engine is built for
    224 and each image is prepared at 224, and the similarity is that of 224 (not the 512
    reference's)."""
    imgs, ckpt, rt = paths
    sizes = prepared_sizes
    out = tmp_path / "out"
    assert main(["retrieve", *imgs[:3], "--checkpoint", ckpt, "--retrieval-checkpoint",
                 str(rt / "ckpt.pth"), "--codebook", str(rt / "codebook.pkl"), "--out",
                 str(out), "--size", "224", "--pairs", "complete"]) == 0
    assert sizes == [224, 224, 224]
    sim = np.load(out / "similarity.npy", allow_pickle=False)
    with np.load(rt / "outputs.npz") as z:
        ref512 = z["sim"][:3, :3]
    assert sim.shape == (3, 3) and not np.allclose(sim, ref512, atol=1e-5)


def test_retrieve_takes_its_settings_from_params(paths, tmp_path, one_torch_thread,
                                                prepared_sizes, capsys):
    """retrieve had no --params (argparse refused it) while it runs the network like pair:
    checkpoint, image_size, retrieval.checkpoint and retrieval.codebook now come from the
    parameter file, the options over them; neither checkpoint given anywhere is one line."""
    imgs, ckpt, rt = paths
    sizes = prepared_sizes
    params = tmp_path / "params.yaml"
    params.write_text(f"mast3r_localizer:\n  ros__parameters:\n    checkpoint: {ckpt}\n"
                      "    image_size: 224\n    device: cpu\n    retrieval:\n"
                      f"      checkpoint: {rt / 'ckpt.pth'}\n"
                      f"      codebook: {rt / 'codebook.pkl'}\n")
    out = tmp_path / "out"
    assert main(["retrieve", *imgs[:2], "--params", str(params), "--out", str(out),
                 "--pairs", "complete"]) == 0, capsys.readouterr().err
    assert sizes == [224, 224] and np.load(out / "similarity.npy").shape == (2, 2)
    sizes.clear()  # an option overrides the file
    assert main(["retrieve", *imgs[:2], "--params", str(params), "--out", str(out),
                 "--overwrite", "--pairs", "complete", "--size", "384"]) == 0
    assert sizes == [384, 384]
    capsys.readouterr()
    for given, words in ((["--retrieval-checkpoint", str(rt / "ckpt.pth")], "--checkpoint CKPT"),
                         (["--checkpoint", ckpt], "--retrieval-checkpoint R")):
        assert main(["retrieve", *imgs[:2], "--out", str(tmp_path / "o"), *given]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
        assert len(err) == 1 and err[0].startswith("mast3r-ros retrieve: error: retrieve ")
        assert words in err[0] and "--params" in err[0], err
    assert not (tmp_path / "o").exists()


def test_retrieve_bad_inputs_exit_2(paths, tmp_path, capsys):
    imgs, ckpt, rt = paths
    base = ["retrieve", *imgs[:2], "--checkpoint", ckpt, "--retrieval-checkpoint",
            str(rt / "ckpt.pth"), "--out", str(tmp_path / "o")]
    assert main(base + ["--pairs", "retrieval-20-1-10-1"]) == 2
    assert "retrieval-Na-k" in capsys.readouterr().err
    # 'ckpt.pth' is not a reference name, so no codebook is found beside it: say so, not
    # "codebook not found: .../_codebook.pkl" (the reference rule's odd derived name)
    assert main(base) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert len(err) == 1 and err[0].startswith("mast3r-ros retrieve: error: no codebook given")
    assert "--codebook" in err[0] and "_codebook.pkl" not in err[0].split("->")[0]
    # a missing --codebook file is named as given
    assert main(base + ["--codebook", str(tmp_path / "cb.pkl")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert err[0].startswith(f"mast3r-ros retrieve: error: codebook not found: {tmp_path}")
    # the two checkpoints swapped
    rt_ckpt, net = str(rt / "ckpt.pth"), ckpt
    swapped = ["retrieve", *imgs[:2], "--checkpoint", rt_ckpt, "--retrieval-checkpoint", net,
               "--codebook", str(rt / "codebook.pkl"), "--out", str(tmp_path / "o")]
    assert main(swapped) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert len(err) == 1 and "pass it as --" in err[0], err
    # a folder given as an image
    assert main(["retrieve", str(tmp_path), imgs[0], "--checkpoint", ckpt,
                 "--retrieval-checkpoint", rt_ckpt, "--out", str(tmp_path / "o")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
    assert len(err) == 1 and "is a folder, not an image file" in err[0], err
    assert not (tmp_path / "o" / "similarity.npy").exists()


def test_retrieve_checkpoints_swapped_without_codebook_say_so(paths, tmp_path, capsys):
    """Without --codebook, the swapped checkpoints were reported as 'no codebook given for
    <the network .pth>'; the file kinds are told first (from the archives' args, no tensors)."""
    imgs, net, rt = paths
    rt_ckpt = str(rt / "ckpt.pth")

    def error(checkpoint, retrieval):
        assert main(["retrieve", *imgs[:2], "--checkpoint", checkpoint, "--retrieval-checkpoint",
                     retrieval, "--out", str(tmp_path / "o")]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
        assert len(err) == 1 and "no codebook given" not in err[0], err
        return err[0]

    assert error(rt_ckpt, net) == (
        f"mast3r-ros retrieve: error: {rt_ckpt} is a MASt3R retrieval checkpoint, not the "
        f"network, and {net} is the network: the two checkpoints are swapped; pass it as "
        f"--retrieval-checkpoint, and {net} as --checkpoint")
    assert error(net, net).startswith(
        f"mast3r-ros retrieve: error: {net} is a MASt3R network checkpoint, not a retrieval "
        "head: pass it as --checkpoint")
    assert error(rt_ckpt, rt_ckpt).startswith(
        f"mast3r-ros retrieve: error: {rt_ckpt} is a MASt3R retrieval checkpoint, not the "
        "network: pass it as --retrieval-checkpoint")
    assert not (tmp_path / "o").exists()


def test_retrieve_applies_cpu_threads_of_params(paths, tmp_path, one_torch_thread, monkeypatch):
    """docs/gpu.md: 'On the CPU': cpu_threads in --params sets torch's and OpenCV's pools for the
    process; retrieve took checkpoint, size and device from --params but built its engine with
    cpu_threads 0."""
    from mast3r_ros.core.model import engine as engine_mod

    seen = []
    monkeypatch.setattr(engine_mod, "apply_cpu_threads", seen.append)
    imgs, ckpt, rt = paths
    params = tmp_path / "params.yaml"
    params.write_text("mast3r_localizer:\n  ros__parameters:\n    cpu_threads: 1\n"
                      "    image_size: 224\n    device: cpu\n")
    assert main(["retrieve", *imgs[:2], "--params", str(params), "--checkpoint", ckpt,
                 "--retrieval-checkpoint", str(rt / "ckpt.pth"), "--codebook",
                 str(rt / "codebook.pkl"), "--out", str(tmp_path / "out"),
                 "--pairs", "complete"]) == 0
    assert seen == [1]


def test_retrieve_refuses_an_image_given_twice(paths, tmp_path, capsys):
    """`retrieve A A B` wrote the pair 'A A' (an image paired with itself, useless to a
    matcher); so did one file given by two paths. Refused, one line naming both arguments, as
    merge-maps refuses one map given as A and B; nothing is written."""
    imgs, ckpt, rt = paths
    link = tmp_path / "link.png"
    link.symlink_to(imgs[0])
    dotted = str(tmp_path / ".." / tmp_path.name / "link.png")
    opts = ["--checkpoint", ckpt, "--retrieval-checkpoint", str(rt / "ckpt.pth"), "--codebook",
            str(rt / "codebook.pkl"), "--out", str(tmp_path / "o"), "--pairs", "complete"]
    for given, words in (([imgs[0], imgs[1], imgs[0]],
                          f"image {imgs[0]} is given twice (arguments 1 and 3)"),
                         ([imgs[1], imgs[0], str(link)],
                          f"images {imgs[0]} (argument 2) and {link} (argument 3) are the same "
                          "file"),
                         ([str(link), dotted], f"images {link} (argument 1) and {dotted} "
                          "(argument 2) are the same file")):
        assert main(["retrieve", *given, *opts]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("[")]
        assert err == [f"mast3r-ros retrieve: error: {words}: an image paired with "
                       "itself gives a matcher nothing; give each image once"], err
    assert not (tmp_path / "o").exists()


def test_the_summary_line_counts_one_pair_as_one():
    """`retrieve a.png b.png --pairs swin-3` wrote '1 pairs'."""
    from mast3r_ros.replay.retrieve import summary_line

    assert summary_line("o", (2, 2), 1) == ("retrieve o: similarity 2x2, 1 pair -> pairs.txt, "
                                            "similarity.npy\n")
    assert "6x6, 0 pairs ->" in summary_line("o", (6, 6), 0)
