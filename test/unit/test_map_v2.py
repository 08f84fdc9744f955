"""Map format v2 (issues 11 and 12): encoding stores and retrieval indexes in the map, lazy open,
the localizer's retrieval through them, build-map workers / resume / Ray / ASMK, merge-maps."""

import builtins
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mast3r_ros.core import keyframes as kfm
from mast3r_ros.core.config import LocalizerConfig, RetrievalConfig
from mast3r_ros.core.errors import MapFormatError
from mast3r_ros.core.keyframes import KeyframeMap
from mast3r_ros.core.localizer import Localizer
from mast3r_ros.core.retrieval import rank_by_similarity
from mast3r_ros.replay.cli import main
from mast3r_ros.replay.tum import TumSequence

from test_keyframes import _encodings, _keyframes

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PARAMS = ("mast3r_localizer:\n  ros__parameters:\n    image_size: 224\n    device: cpu\n"
          "    map_build: {min_translation_m: 0.25}\n    scale: {chunk_size: 2}\n")


def _map_with_encodings(tmp_path, version=2, name="map"):
    path = kfm.write_map(str(tmp_path / name), _keyframes(), version=version)
    KeyframeMap.load(path).save_encodings(_encodings("ckptA"))
    return path


def _content(path):
    """Everything a reader gets from a map: manifest records, pixels, every encoding array."""
    m = KeyframeMap.load(path)
    out = {"keyframes": [(k.id, k.stamp_ns, k.map_from_cam.tobytes(), k.intrinsics.width,
                          k.intrinsics.height, k.intrinsics.K.tobytes(),
                          k.intrinsics.dist.tobytes(), k.intrinsics.distortion_model,
                          k.image_file, k.depth_file, k.depth_scale) for k in m.keyframes],
           "images": [m.image(i).tobytes() for i in range(len(m))],
           "thumbs": np.asarray(m.thumbnail_descriptors()).tobytes()}
    for ident, size in m.encoding_keys():
        enc = m.load_encodings(ident, size)
        out[(ident, size)] = [(d["feats"].tobytes(), d["true_shape"].tobytes(),
                               np.asarray(enc.to_orig[i]).tobytes())
                              for i, d in enumerate(enc.per_keyframe)]
        out[(ident, size, "global")] = np.asarray(enc.global_desc).tobytes()
    for key in m.asmk_keys():
        a = m.load_asmk(*key)
        out[key] = (a.offsets.tobytes(), a.image_ids.tobytes(), a.codes.tobytes())
    return out


# ------------------------------------------------------------------------------ format ---

def test_v2_round_trip_with_encodings(tmp_path):
    path = _map_with_encodings(tmp_path)
    m = KeyframeMap.load(path)
    assert m.version == 2 and m.map_frame == "map"
    enc, want = m.load_encodings("ckptA", 224), _encodings("ckptA")
    assert len(enc.per_keyframe) == 3
    for i in range(3):
        np.testing.assert_array_equal(enc.per_keyframe[i]["feats"], want.per_keyframe[i]["feats"])
        assert enc.per_keyframe[i]["feats"].dtype == np.float16
        np.testing.assert_array_equal(enc.to_orig[i], want.to_orig[i])
    np.testing.assert_array_equal(enc.global_desc, want.global_desc)
    files = m.manifest["files"]
    assert any(f.startswith("encodings/") and f.endswith(".npy") and "chunk_" in f
               for f in files)
    assert "retrieval/thumbnail/index.json" in files


def test_lazy_open_reads_only_the_manifest_and_the_retrieval_index(tmp_path, monkeypatch):
    path = _map_with_encodings(tmp_path)
    opened = []
    real = builtins.open

    def spy(file, *a, **k):
        opened.append(os.path.relpath(os.fspath(file), path))
        return real(file, *a, **k)

    monkeypatch.setattr(builtins, "open", spy)
    m = KeyframeMap.load(path, lazy=True)
    monkeypatch.setattr(builtins, "open", real)
    assert set(opened) <= {"manifest.json", "retrieval/thumbnail/index.json",
                           "retrieval/thumbnail/descs.npy"}, opened
    assert "manifest.json" in opened
    # an eager open reads every file, including images and encoding chunks
    opened.clear()
    monkeypatch.setattr(builtins, "open", spy)
    KeyframeMap.load(path)
    monkeypatch.setattr(builtins, "open", real)
    assert any(f.startswith("keyframes/") for f in opened)
    assert any("chunk_" in f for f in opened)
    # lazily opened, the map still serves everything
    assert m.image(1).shape == (48, 64, 3)
    np.testing.assert_array_equal(m.load_encodings("ckptA", 224).per_keyframe[2]["feats"],
                                  _encodings("ckptA").per_keyframe[2]["feats"])


def test_corrupt_chunk_is_named_on_first_use(tmp_path):
    path = _map_with_encodings(tmp_path)
    m = KeyframeMap.load(path, lazy=True)
    chunk = sorted(f for f in m.manifest["files"] if "chunk_" in f)[0]
    full = os.path.join(path, chunk)
    data = bytearray(open(full, "rb").read())
    data[-3] ^= 0xFF
    open(full, "wb").write(bytes(data))
    enc = m.load_encodings("ckptA", 224)  # opening still reads no chunk
    with pytest.raises(MapFormatError, match="corrupt") as e:
        enc.per_keyframe[0]
    assert chunk in str(e.value)
    with pytest.raises(MapFormatError, match="corrupt") as e:
        KeyframeMap.load(path)  # an eager open names it as well
    assert chunk in str(e.value)


def test_corrupt_image_of_a_lazy_map_is_named_on_first_use(tmp_path):
    path = kfm.write_map(str(tmp_path / "m"), _keyframes())
    full = os.path.join(path, "keyframes/000001.png")
    data = open(full, "rb").read()
    # same size, other bytes: only the checksum sees it, on first use
    open(full, "wb").write(data[:100] + bytes(b ^ 0xFF for b in data[100:]))
    m = KeyframeMap.load(path, lazy=True)
    m.image(0)
    with pytest.raises(MapFormatError, match="000001.png"):
        m.image(1)
    # a truncated file is reported at open already (its size is in the map)
    open(full, "wb").write(data[:100])
    with pytest.raises(MapFormatError, match="truncated.*000001.png"):
        KeyframeMap.load(path, lazy=True)


def test_v1_map_with_encodings_still_loads(tmp_path):
    path = _map_with_encodings(tmp_path, version=1)
    for lazy in (False, True):
        m = KeyframeMap.load(path, lazy=lazy)
        assert m.version == 1
        enc = m.load_encodings("ckptA", 224)
        np.testing.assert_array_equal(enc.global_desc, _encodings("ckptA").global_desc)
        assert isinstance(enc.per_keyframe, list)


# --------------------------------------------------------------------------- localizer ---

@pytest.fixture(scope="module")
def seq(tum):
    """conftest's session ``tum`` (the same 24 frames at 320x240, seed 1), read only here: one
    render of the loop per worker, not a second one for this file."""
    return tum


def test_localizer_retrieval_equals_the_dense_ranking(tmp_path, seq):
    """Candidates through the map's RetrievalIndex equal today's rank_by_similarity, and v1
    and v2 maps localize a frame identically."""
    frames = list(TumSequence(seq[1]))[::4]
    results = []
    for version in (1, 2):
        src = TumSequence(seq[0])
        path = kfm.write_map(str(tmp_path / f"m{version}"),
                             [(f.rgb, f.intrinsics, f.map_from_cam, f.stamp_ns, f.depth_m)
                              for f in list(src)[::3]], version=version)
        m = KeyframeMap.load(path, lazy=(version == 2))
        loc = Localizer(m, LocalizerConfig(matcher="sift", retrieval_top_k=4))
        assert loc.retrieval.method == "thumbnail"
        db = m.thumbnail_descriptors()
        for f in frames:
            state = loc.matcher.query_state(f)
            want = rank_by_similarity(loc.matcher.query_descriptor(f, state), db, 4)
            np.testing.assert_array_equal(loc.retrieval.rank(f, state, 4), want)
        results.append([loc.localize(f, force_global=True) for f in frames])
    for a, b in zip(*results):
        assert (a.success, a.keyframe_ids, a.num_inliers) == (b.success, b.keyframe_ids,
                                                              b.num_inliers)
        if a.success:
            np.testing.assert_array_equal(a.map_from_cam, b.map_from_cam)


# ---------------------------------------------------------------------------- build-map ---

def _params(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(PARAMS)
    return str(p)


def _build(seq, out, ckpt, params, *extra):
    return main(["build-map", seq[0], "--out", out, "--checkpoint", ckpt, "--params", params,
                 "--log-level", "warning", *extra])


@pytest.fixture(scope="module")
def one_worker_map(seq, tiny_ckpt, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w1")
    out = str(tmp / "map")
    assert _build(seq, out, tiny_ckpt, _params(tmp), "--workers", "1") == 0
    return out


def test_the_store_is_chunked_by_scale_chunk_size(one_worker_map):
    """PARAMS sets scale.chunk_size 2: one chunk per 2 keyframes, named by its first."""
    m = KeyframeMap.load(one_worker_map)
    (entry,) = m.manifest["encodings"]
    names = os.listdir(os.path.join(one_worker_map, entry["store"]))
    chunks = sorted(f for f in names if f.startswith("chunk_") and f[6:-4].isdigit())
    assert len(m) >= 3 and chunks == [f"chunk_{i:06d}.npy" for i in range(0, len(m), 2)]


def test_two_workers_build_the_same_map(seq, tiny_ckpt, tmp_path, one_worker_map):
    out = str(tmp_path / "map")
    assert _build(seq, out, tiny_ckpt, _params(tmp_path), "--workers", "2") == 0
    assert _content(out) == _content(one_worker_map)
    assert KeyframeMap.load(out).manifest["files"] == \
        KeyframeMap.load(one_worker_map).manifest["files"]
    assert not os.path.exists(out + ".partial")


def test_killed_build_resumes_to_the_same_map(seq, tiny_ckpt, tmp_path, one_worker_map):
    out = str(tmp_path / "map")
    params = _params(tmp_path)
    argv = [sys.executable, "-m", "mast3r_ros.replay.cli", "build-map", seq[0], "--out", out,
            "--checkpoint", tiny_ckpt, "--params", params, "--workers", "1",
            "--log-level", "warning"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p),
               OMP_NUM_THREADS="1")
    proc = subprocess.Popen(argv, env=env)
    # SIGKILL at a random point once encoding has begun (a chunk is on disk)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        enc = os.path.join(out + ".partial", "encodings")
        if os.path.isdir(enc) and any(n.startswith("chunk_") for d in os.listdir(enc)
                                      for n in os.listdir(os.path.join(enc, d))):
            break
        time.sleep(0.05)
    time.sleep(float(np.random.default_rng(3).uniform(0.0, 0.5)))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if os.path.exists(out):
            # killed after the map was renamed into place (writing keyframes.png, say): the map
            # is whole, never half-written
            assert _content(out) == _content(one_worker_map)
        else:  # killed before: nothing at OUT loads, and the build resumes
            with pytest.raises(MapFormatError):
                KeyframeMap.load(out)
            assert _build(seq, out, tiny_ckpt, params, "--workers", "1", "--resume") == 0
    else:
        assert proc.returncode == 0  # finished before the kill: nothing to resume
    assert _content(out) == _content(one_worker_map)
    assert not os.path.exists(out + ".partial")


def test_interrupted_after_encoding_resumes_without_encoding_again(seq, tiny_ckpt, tmp_path,
                                                                    one_worker_map, monkeypatch,
                                                                    capsys):
    """Ctrl-C after the encodings were done (while the ASMK index, the plot or the manifest were
    written) deleted the shard markers and build.json: --resume then encoded every keyframe
    again ('resuming: 0 of 3 shards') -- hours on a large map -- and no longer refused a build
    folder of other keyframes."""
    from mast3r_ros.replay import pipeline

    out, params = str(tmp_path / "map"), _params(tmp_path)
    real_plot = pipeline.plot_keyframes

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "plot_keyframes", interrupted)
    assert _build(seq, out, tiny_ckpt, params, "--workers", "1") == 130
    assert "--resume" in capsys.readouterr().err and not os.path.exists(out)
    monkeypatch.setattr(pipeline, "plot_keyframes", real_plot)
    assert main(["build-map", seq[0], "--out", out, "--checkpoint", tiny_ckpt, "--params", params,
                 "--workers", "1", "--resume", "--log-level", "info"]) == 0
    err = capsys.readouterr().err
    done = re.search(r"resuming: (\d+) of (\d+) shards already encoded", err)
    assert done and done.group(1) == done.group(2) != "0", err[-2000:]
    assert _content(out) == _content(one_worker_map)
    published = [n for _, _, names in os.walk(out) for n in names]
    assert not [n for n in published if n.startswith("shard_") or n == "build.json"]


def test_local_ray_builds_the_same_map(seq, tiny_ckpt, tmp_path, one_worker_map, monkeypatch):
    # loopback only, no usage statistics (see test_parallel_build.py)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    from ray._private import ray_constants

    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.replay.map_build import BuildOptions
    from mast3r_ros.replay.pipeline import build_map

    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    # as in test_parallel_build.py: a new instance would turn token mode on in this process
    # (and write ~/.ray/auth_token), and a later Ray started in this pytest process with
    # token mode off then had its actors cancelled before they ran ("The actor never ran")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
                                       "OMP_NUM_THREADS": "1"}})
    try:
        assert ray.util.get_node_ip_address() == "127.0.0.1"
        import dataclasses

        cfg = load_config_yaml(_params(tmp_path))
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model,
                                                                 checkpoint=tiny_ckpt))
        out = str(tmp_path / "map")
        build_map(TumSequence(seq[0]), out, cfg,
                  build=BuildOptions(workers=2, ray_address="local", threads=1))
    finally:
        ray.shutdown()
    assert _content(out) == _content(one_worker_map)


def test_merge_maps(seq, tiny_ckpt, tmp_path, one_worker_map):
    b = str(tmp_path / "b")
    assert main(["build-map", seq[1], "--out", b, "--checkpoint", tiny_ckpt, "--params",
                 _params(tmp_path), "--log-level", "warning"]) == 0
    out = str(tmp_path / "c")
    assert main(["merge-maps", one_worker_map, b, "--out", out]) == 0
    ma, mb, mc = (KeyframeMap.load(p) for p in (one_worker_map, b, out))
    assert len(mc) == len(ma) + len(mb)
    np.testing.assert_array_equal(mc.poses(), np.concatenate([ma.poses(), mb.poses()]))
    key, = mc.encoding_keys()
    ea, eb, ec = (m.load_encodings(*key) for m in (ma, mb, mc))
    np.testing.assert_array_equal(ec.global_desc, np.concatenate([ea.global_desc,
                                                                  eb.global_desc]))
    for i in (0, len(ma) - 1):
        np.testing.assert_array_equal(ec.per_keyframe[i]["feats"], ea.per_keyframe[i]["feats"])
    np.testing.assert_array_equal(ec.per_keyframe[len(ma)]["feats"],
                                  eb.per_keyframe[0]["feats"])
    # maps in different frames are refused
    man = json.load(open(os.path.join(b, "manifest.json")))
    man["map_frame"] = "other"
    json.dump(man, open(os.path.join(b, "manifest.json"), "w"))
    assert main(["merge-maps", one_worker_map, b, "--out", str(tmp_path / "d")]) == 2


# -------------------------------------------------------------------------------- ASMK ---

@pytest.fixture(scope="module")
def asmk_files(ref_fixtures):
    rt = ref_fixtures / "retrieval_tiny"
    if not (rt / "ckpt.pth").is_file():
        pytest.skip("retrieval_tiny fixture missing")
    return (str(ref_fixtures / "mast3r_tiny" / "ckpt.pth"), str(rt / "ckpt.pth"),
            str(rt / "codebook.pkl"))


@pytest.fixture(scope="module")
def asmk_map(seq, asmk_files, tmp_path_factory):
    backbone, rckpt, codebook = asmk_files
    tmp = tmp_path_factory.mktemp("asmk")
    out = str(tmp / "map")
    assert _build(seq, out, backbone, _params(tmp), "--retrieval-checkpoint", rckpt,
                  "--codebook", codebook) == 0
    return out


def _mast3r_loc(path, backbone, retrieval):
    from mast3r_ros.core.config import Config, ModelConfig

    cfg = Config(model=ModelConfig(checkpoint=backbone, device="cpu", image_size=224),
                 retrieval=retrieval)
    import dataclasses

    cfg = dataclasses.replace(cfg, localizer=dataclasses.replace(cfg.localizer,
                                                                 retrieval_top_k=4))
    return Localizer.from_config(cfg, path)


def test_asmk_retrieval_in_map_and_localizer(seq, asmk_files, asmk_map, caplog):
    from mast3r_ros.core.asmk import AsmkIndex
    from mast3r_ros.core.retrieval_model import AsmkRetriever

    backbone, rckpt, codebook = asmk_files
    m = KeyframeMap.load(asmk_map)
    (rid, eid, size), = m.asmk_keys()
    assert size == 224 and (eid, 224) in m.encoding_keys()
    retriever = AsmkRetriever.from_files(rckpt, codebook, enc_dim=32)
    assert rid == retriever.identity
    # the stored inverted file is what indexing the stored encodings gives
    enc = m.load_encodings(eid, 224)
    # (build-map batches the keyframes' codebook searches: the same as one per keyframe)
    want = AsmkIndex.build([retriever.database_vector(d["feats"].astype(np.float32))
                            for d in enc.per_keyframe], retriever.codebook.num_words,
                           retriever.codebook.dim, retriever.identity)
    got = m.load_asmk(rid, eid, 224)
    np.testing.assert_array_equal(got.offsets, want.offsets)
    np.testing.assert_array_equal(got.codes, want.codes)
    np.testing.assert_array_equal(got.image_ids, want.image_ids)
    loc = _mast3r_loc(asmk_map, backbone, RetrievalConfig(checkpoint=rckpt, codebook=codebook))
    try:
        assert loc.retrieval.method == "asmk"  # auto: the map has the index
        f = list(TumSequence(seq[1]))[5]
        state = loc.matcher.query_state(f)
        scores = retriever.scores(got, state.encoding.feats.float())
        np.testing.assert_array_equal(loc.retrieval.rank(f, state, 4),
                                      np.argsort(-scores, kind="stable")[:4])
        r = loc.localize(f, force_global=True)
        assert r.reason != "no candidate keyframes"
    finally:
        loc.close()
    # without a retrieval checkpoint: today's pooled retrieval, one line saying why
    loc = _mast3r_loc(asmk_map, backbone, RetrievalConfig(method="asmk"))
    assert loc.retrieval.method == "pooled"
    assert any("retrieval.method 'asmk'" in r.message for r in caplog.records)
    loc.close()
    loc = _mast3r_loc(asmk_map, backbone, RetrievalConfig(method="thumbnail",
                                                          checkpoint=rckpt))
    assert loc.retrieval.method == "thumbnail"
    loc.close()


def test_asmk_fallback_when_the_map_has_no_index(seq, asmk_files, tmp_path, caplog):
    backbone, rckpt, codebook = asmk_files
    out = str(tmp_path / "map")
    assert _build(seq, out, backbone, _params(tmp_path)) == 0
    loc = _mast3r_loc(out, backbone, RetrievalConfig(method="asmk", checkpoint=rckpt,
                                                     codebook=codebook))
    assert loc.retrieval.method == "pooled"
    assert any("no ASMK index" in r.message for r in caplog.records)
    loc.close()


@pytest.mark.parametrize("device, where", [("auto", "cuda"), ("cpu", "cpu")])
def test_retrieval_device_chooses_where_the_asmk_inverted_file_is_scored(tmp_path, device,
                                                                          where, monkeypatch):
    """retrieval.device reaches the map's AsmkIndex: 'auto' follows the engine (a CUDA engine
    here, so nothing is copied until a query), 'cpu' keeps the inverted file on the host and
    scores it there even beside a GPU engine (a Jetson's shared memory)."""
    import types

    import torch

    from mast3r_ros.core.localizer import GlobalRetrieval
    from test_map_v3 import _map_with_asmk, _vectors

    # a CUDA engine stood in for: device names are checked against the machine
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    vecs = _vectors(3, seed=2)
    path = _map_with_asmk(str(tmp_path / "map"), _keyframes(), _encodings("ckptA"), vecs)
    engine = types.SimpleNamespace(device=torch.device("cuda"), identity="ckptA")
    retriever = types.SimpleNamespace(  # scores a fixed query vector: no network needed
        identity="asmk-test", top_k=lambda index, feats, k: index.top_k(vecs[1], k))
    r = GlobalRetrieval(KeyframeMap.load(path), types.SimpleNamespace(name="mast3r"),
                        RetrievalConfig(device=device), engine, 224, retriever)
    assert r.method == "asmk" and r.asmk.device == torch.device(where)
    if device == "cpu":
        assert r.asmk.resolved_backend() in ("faiss", "numpy")
        assert r.rank(None, types.SimpleNamespace(encoding=types.SimpleNamespace(
            feats=torch.zeros(1, 4))), 1)[0] == 1  # the query is keyframe 1's own vector
    else:
        assert r.asmk.resolved_backend() == "torch"


def test_retrieval_device_is_read_from_the_params_file(tmp_path):
    from mast3r_ros.core.config import load_config_yaml
    from mast3r_ros.core.errors import ConfigError

    p = tmp_path / "p.yaml"
    p.write_text("mast3r_localizer:\n  ros__parameters:\n    retrieval: {device: cpu}\n")
    assert load_config_yaml(str(p)).retrieval.device == "cpu"
    p.write_text("mast3r_localizer:\n  ros__parameters:\n    retrieval: {device: cuda}\n")
    with pytest.raises(ConfigError, match="retrieval.device"):
        load_config_yaml(str(p))
