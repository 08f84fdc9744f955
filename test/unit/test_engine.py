"""Preprocessing (reference cases) and the encode-once / decode-many inference engine."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from mast3r_ros.core.errors import ConfigError, InputError
from mast3r_ros.core.model.engine import Encoding, Mast3rEngine, PreparedImage, resolve_device
from mast3r_ros.core.model.preprocess import load_rgb, normalize, plan_resize, resize_crop


def test_preprocessing_equals_reference(ref_fixtures):
    d = ref_fixtures / "preproc"
    cases = json.loads((d / "expected.json").read_text())
    assert len(cases) >= 6
    for name, case in cases.items():
        out, plan = resize_crop(load_rgb(str(d / case["source"])), case["size_arg"])
        ref = np.asarray(Image.open(d / name).convert("RGB"))
        assert out.shape[:2] == tuple(case["true_shape_HxW"]), name
        assert np.array_equal(out, ref), name


@pytest.mark.parametrize("w,h,size,net", [
    (1000, 1334, 512, (384, 512)), (1334, 1000, 512, (512, 384)), (224, 224, 512, (512, 384)),
    (1000, 1334, 224, (224, 224)), (640, 480, 512, (512, 384)), (512, 384, 512, (512, 384)),
    (1280, 720, 512, (512, 288)), (640, 480, 384, (384, 288)), (480, 640, 384, (288, 384)),
])
def test_resize_plan_sizes(w, h, size, net):
    assert plan_resize(w, h, size).net_size == net


@pytest.mark.parametrize("size", [512, 384, 224])
def test_images_the_network_cannot_take_are_refused_at_every_size(size):
    # an 8x8 query was upsampled to the network size and "localized" (5 px RANSAC threshold on an
    # 8 px image); a 100x2000 strip became one row of patches
    for w, h in ((8, 8), (15, 400), (400, 15)):
        with pytest.raises(InputError, match=f"image {w}x{h} is under 16 px on its short side"):
            plan_resize(w, h, size)
    for w, h in ((100, 2000), (2000, 401), (300, 1201)):
        with pytest.raises(InputError, match=f"image {w}x{h} is too elongated .* at most 4:1"):
            plan_resize(w, h, size)
    for w, h in ((16, 16), (1600, 400), (400, 1600), (1280, 400)):
        plan_resize(w, h, size)  # the smallest and most elongated accepted
    with pytest.raises(InputError) as e:  # the limit enforced (4:1) and the advice (3.2:1)
        plan_resize(2000, 400, size)
    assert str(e.value) == ("image 2000x400 is too elongated for the network (aspect 5.0:1, "
                            "over the 4:1 limit): crop it to at most 4:1, best to 3.2:1 or less "
                            "(the most elongated MASt3R was trained on)")
    with pytest.raises(InputError, match=r"got '512'"):  # the string shows as a string
        plan_resize(640, 480, "512")
    with pytest.raises(InputError, match=r"got True"):
        plan_resize(640, 480, True)


def test_to_orig_maps_network_pixels_back():
    # 640x480 -> 512x384: scale 0.8, no crop; network pixel centre (0,0) is at (0.125, 0.125).
    m = plan_resize(640, 480, 512).to_orig()
    assert np.allclose(m @ [0, 0, 1], [0.125, 0.125, 1])
    assert np.allclose(m @ [511, 383, 1], [638.875, 478.875, 1])
    # 1280x720 -> resize 512x288, crop none: the centre maps to the centre.
    plan = plan_resize(1280, 720, 512)
    c = plan.to_orig() @ [(plan.net_size[0] - 1) / 2, (plan.net_size[1] - 1) / 2, 1]
    assert np.allclose(c[:2], [639.5, 359.5])
    # 224 square crop of a portrait: offsets land in the original frame.
    plan = plan_resize(1000, 1334, 224)
    y0 = (plan.to_orig() @ [0, 0, 1])[1]
    assert 160 < y0 < 170  # (1334 - 1000) / 2 cropped away, minus the half-pixel shift


def test_normalize_and_bad_images():
    x = normalize(np.array([[[0, 128, 255]]], dtype=np.uint8))
    assert x.shape == (3, 1, 1) and np.allclose(x[:, 0, 0], [-1, 128 / 255 * 2 - 1, 1], atol=1e-6)
    with pytest.raises(InputError):
        resize_crop(np.zeros((10, 10), np.uint8), 512)
    with pytest.raises(InputError, match=r"must be one of \(512, 384, 224\), got 300"):
        plan_resize(640, 480, 300)
    with pytest.raises(InputError, match="not found"):
        load_rgb("/nonexistent/image.png")


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ConfigError):
        resolve_device("tpu9")


def test_a_cuda_index_beyond_the_machines_gpus_is_a_config_error(monkeypatch):
    """'cuda:7' on a 2-GPU machine passed, then failed with torch's 'invalid device ordinal'
    traceback at the first copy (a fresh reviewer's find)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(ConfigError, match=r"'cuda:7': this machine has 2 CUDA device\(s\) "
                                          r"\(cuda:0..cuda:1\)"):
        resolve_device("cuda:7")


def _small(engine: Mast3rEngine, seed: int, hw=(48, 64)) -> PreparedImage:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 255, (*hw, 3), dtype=np.uint8)
    t = torch.from_numpy(normalize(rgb))[None]
    return PreparedImage(t, hw, np.eye(3), (hw[1], hw[0]), rgb)


@pytest.mark.compat  # batched against single decodes on torch 2.1's kernels
def test_cached_decode_equals_full_pair_and_batches(tiny_engine):
    kfs = [_small(tiny_engine, s) for s in (1, 2, 3)]
    q = _small(tiny_engine, 9)
    full = [tiny_engine.pair(k, q) for k in kfs]
    encs = [tiny_engine.encode(k) for k in kfs]
    batched = tiny_engine.decode(encs, tiny_engine.encode(q), pts3d_2=True)
    for f, b in zip(full, batched):
        fa, ba = f.to_numpy(), b.to_numpy()
        for name, v in fa.items():
            if name.startswith("pts3d"):  # exp-amplified: compare per pixel
                rel = np.linalg.norm(ba[name] - v, axis=-1) / np.linalg.norm(v, axis=-1)
                assert rel.max() < 1e-3, name
            else:
                np.testing.assert_allclose(ba[name], v, rtol=1e-4, atol=1e-5)
    lean = tiny_engine.decode(encs[:1], tiny_engine.encode(q))[0]
    assert lean.pts3d_2 is None and lean.conf_2 is None and lean.desc_2 is not None
    np.testing.assert_allclose(lean.desc_2.numpy(), full[0].desc_2.numpy(), atol=1e-5)


def test_encoding_storage_round_trip(tiny_engine):
    img, q = _small(tiny_engine, 4), _small(tiny_engine, 5)
    enc = tiny_engine.encode(img)
    arrays = enc.to_numpy()
    assert arrays["feats"].dtype == np.float16 and arrays["feats"].shape == (12, 32)
    back = Encoding.from_numpy(arrays, "cpu")
    a = tiny_engine.decode([enc], tiny_engine.encode(q))[0]
    b = tiny_engine.decode([back], tiny_engine.encode(q))[0]
    # float16 storage: descriptors stay close (unit vectors).
    assert (a.desc_1 - b.desc_1).abs().max() < 2e-2
    with pytest.raises(InputError, match="inconsistent"):
        Encoding.from_numpy({"feats": arrays["feats"][:5], "true_shape": arrays["true_shape"]},
                            "cpu")


@pytest.mark.parametrize("d, match", [
    ({"feats": np.zeros((4, 8))}, r"cached encoding is missing true_shape: .*Encoding.to_numpy"),
    ({}, "cached encoding is missing feats, true_shape"),
    ({"feats": np.zeros((4, 8)), "true_shape": np.array(["a", "b"])},
     "cached encoding true_shape must be the image's .H, W. in network pixels, got"),
    (None, "cached encoding must be a mapping of feats and true_shape .*got NoneType"),
    ({"feats": np.zeros((4, 8)).astype(str), "true_shape": np.array([32, 32])},
     r"cached encoding feats must be floating point .*, got <U32"),
    ({"feats": np.zeros((4, 8), object), "true_shape": np.array([32, 32])},
     r"cached encoding feats must be floating point .*, got object"),
])
def test_a_malformed_cached_encoding_names_what_is_wrong(d, match):
    """A missing key was a bare KeyError ('true_shape'), text sizes a ValueError from int(),
    text or object features a TypeError from torch.from_numpy."""
    with pytest.raises(InputError, match=match):
        Encoding.from_numpy(d, "cpu")


def test_decode_views_of_different_sizes_and_empty(tiny_engine):
    """A query of another size/aspect ratio than the keyframes (issue 8, query-aspect-ratio):
    decoded as it is, each view on its own grid, keyframes of one size batched together."""
    a, b = _small(tiny_engine, 1), _small(tiny_engine, 2, hw=(64, 48))
    q = _small(tiny_engine, 3, hw=(32, 64))
    assert tiny_engine.decode([], tiny_engine.encode(a)) == []
    ea, eb, eq = (tiny_engine.encode(x) for x in (a, b, q))
    mixed = tiny_engine.decode([eb, ea, eb], eq, pts3d_2=True)
    for p, hw in zip(mixed, ((64, 48), (48, 64), (64, 48))):
        assert p.pts3d_1.shape == (*hw, 3) and p.desc_1.shape[:2] == hw
        assert p.pts3d_2.shape == (32, 64, 3) and p.desc_2.shape[:2] == (32, 64)
        assert all(torch.isfinite(v).all() for v in (p.pts3d_1, p.desc_1, p.pts3d_2, p.desc_2))
    # the grouped batch gives what each keyframe gives alone, in the caller's order
    for e, p in zip((eb, ea, eb), mixed):
        alone = tiny_engine.decode([e], eq, pts3d_2=True)[0]
        np.testing.assert_allclose(p.desc_1.numpy(), alone.desc_1.numpy(), atol=1e-5)
        np.testing.assert_allclose(p.desc_2.numpy(), alone.desc_2.numpy(), atol=1e-5)
    # the query's own grid matters: its tokens read on the keyframe's grid give other outputs
    model = tiny_engine.model
    with torch.inference_mode():
        e1, e2 = ea.feats[None], eq.feats[None]
        right = model.decode(e1, e2, (3, 4), (2, 4))[1][-1]
        wrong = model.decode(e1, e2, (3, 4), (4, 2))[1][-1]
    assert not torch.allclose(right, wrong, atol=1e-4)
    # and the two views of a pair may be swapped: the keyframe smaller than the query
    swapped = tiny_engine.decode([eq], ea)[0]
    assert swapped.desc_1.shape[:2] == (32, 64) and swapped.desc_2.shape[:2] == (48, 64)


def test_decode_refuses_encodings_that_are_not_this_networks(tiny_engine):
    """Encodings of another width or token count, or numpy features, gave torch's words
    ("mat1 and mat2 shapes cannot be multiplied", an AttributeError): an InputError now names
    the view and the shapes (a fresh user's find)."""
    ea, eq = tiny_engine.encode(_small(tiny_engine, 1)), tiny_engine.encode(_small(tiny_engine, 2))
    n, c = ea.feats.shape  # 12 tokens of a 48x64 image, tiny width 32
    cases = [
        ([Encoding(ea.feats[:, :c // 2], ea.true_shape)], eq, r"view1\[0\].feats is \(12, 16\)"),
        ([ea], Encoding(eq.feats[:n - 1], eq.true_shape), r"view2.feats is \(11, 32\).*\(12, 32\)"),
        ([ea, Encoding(ea.feats.numpy(), ea.true_shape)], eq, r"view1\[1\].feats must be a torch"),
        ([ea], Encoding(eq.feats.long(), eq.true_shape), "floating point"),
        ([Encoding(ea.feats, (48,))], eq, r"view1\[0\].true_shape"),
    ]
    for view1, view2, match in cases:
        with pytest.raises(InputError, match=match):
            tiny_engine.decode(view1, view2)
    # a float16 cached encoding on the engine's device is this network's
    assert len(tiny_engine.decode([Encoding(ea.feats.half(), ea.true_shape)], eq)) == 1


def test_decode_refuses_encodings_of_another_checkpoint(tiny_engine, tmp_path):
    """A Python user's find: keyframe encodings cached per keyframe (as the README shows) and
    decoded by an engine of another checkpoint of the same width gave garbage, silently; each
    encoding now carries its network's identity and decode refuses another's."""
    from mast3r_test_utils import write_tiny_checkpoint

    other = Mast3rEngine.from_checkpoint(write_tiny_checkpoint(str(tmp_path / "b.pth"), seed=1),
                                         device="cpu")
    assert other.identity != tiny_engine.identity
    ea, eq = tiny_engine.encode(_small(tiny_engine, 1)), other.encode(_small(other, 2))
    assert (ea.identity, eq.identity) == (tiny_engine.identity, other.identity)
    with pytest.raises(InputError, match=r"view1\[0\] was encoded by another checkpoint"):
        other.decode([ea], eq)
    with pytest.raises(InputError, match=r"view2 was encoded by another checkpoint .*encode "
                                         r"the image again with this engine"):
        tiny_engine.decode([ea], eq)
    # an encoding of unknown origin (a map's cached one, Encoding.from_numpy) is decoded
    cached = Encoding.from_numpy(ea.to_numpy(), "cpu")
    assert cached.identity is None and len(other.decode([cached], eq)) == 1
    other.close()


def test_prepare_portrait_keeps_mapping(tiny_engine):
    rgb = np.random.default_rng(0).integers(0, 255, (600, 400, 3), dtype=np.uint8)
    p = tiny_engine.prepare(rgb, 224)
    assert p.true_shape == (224, 224) and p.orig_size == (400, 600)
    assert p.tensor.shape == (1, 3, 224, 224)


def test_cpu_runs_fp32_whatever_precision_asked(tiny_engine):
    eng = Mast3rEngine(tiny_engine.model, torch.device("cpu"), "fp16")
    assert eng.precision == "fp32"
    with pytest.raises(ConfigError):
        Mast3rEngine(tiny_engine.model, torch.device("cpu"), "int8")


def test_weight_budget_arithmetic_full_vit_l():
    """The 3 GB GPU target (issue 9) for the full ViT-L, counted on the meta device: fp32
    weights plus autocast's half copies (the previous policy) cannot fit; stored fp16 weights
    leave ~1.6 GB for activations, workspaces and the CUDA-graph pools."""
    from mast3r_ros.core.model.engine import weight_bytes
    from mast3r_ros.core.model.network import ModelSpec

    fp32, fp16 = weight_bytes(ModelSpec(), "fp32"), weight_bytes(ModelSpec(), "fp16")
    assert 688e6 < fp16["params"] < 690e6  # MASt3R ViT-L, tied DPT convolutions counted once
    assert fp32["stored"] == fp32["fp32_weights"] == 4 * fp32["params"]  # ~2.75 GB
    s = ModelSpec()
    layernorms = 2 * (s.enc_embed_dim * (2 * s.enc_depth + 1)
                      + s.dec_embed_dim * (2 * 4 * s.dec_depth + 1))
    assert fp16["fp32_params"] == 2 * (128 * 4 + 4) + layernorms  # DPT output convs + norms
    assert fp16["stored"] == 2 * fp16["params"] + 2 * fp16["fp32_params"]
    assert fp16["stored"] < 1.38e9 < 3e9 - 1.6e9
    assert fp16["fp32_plus_autocast_copies"] > 4.1e9 > 3e9  # what the H200 run measured
    assert weight_bytes(ModelSpec(), "bf16")["stored"] == fp16["stored"]
    with pytest.raises(ConfigError):
        weight_bytes(ModelSpec(), "int8")


def test_cast_model_keeps_fp32_parts_and_the_source(tiny_engine):
    """The half-precision copy: every float weight in bf16 except the DPT output convolutions,
    tied tensors still tied, the caller's model untouched; it runs under autocast (bf16 on the
    CPU stands in for fp16 on CUDA) close to fp32, its pointmap head output in float32."""
    from mast3r_ros.core.model.engine import cast_model, fp32_parameter_names

    model = tiny_engine.model
    before = {n: t.clone() for n, t in model.state_dict().items()}
    half = cast_model(model, torch.device("cpu"), torch.bfloat16)
    keep = set(fp32_parameter_names(model))
    assert {f"downstream_head{i}.dpt.head.4.{p}" for i in (1, 2)
            for p in ("weight", "bias")} < keep
    assert all(".dpt.head.4." in n or "norm" in n for n in keep)
    assert {"enc_norm.weight", "dec_norm.bias", "dec_blocks2.0.norm_y.weight"} < keep
    for n, t in half.state_dict().items():
        assert t.dtype == (torch.float32 if n in keep else torch.bfloat16), n
    sc = half.downstream_head1.dpt.scratch
    assert sc.layer1_rn.weight is sc.layer_rn[0].weight
    assert all(torch.equal(t, before[n]) and t.dtype == torch.float32
               for n, t in model.state_dict().items())
    assert not any(p.requires_grad for p in half.parameters())
    img = _small(tiny_engine, 0).tensor
    with torch.inference_mode():
        ref = model(img, img)[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = half(img, img)[0]
    for k in ("pts3d", "desc"):
        assert got[k].dtype == torch.float32 and torch.isfinite(got[k]).all()
    cos = torch.nn.functional.cosine_similarity(got["desc"], ref["desc"], dim=-1)
    assert cos.median() > 0.99, f"bf16 desc cosine median {cos.median():.4f}"


def test_the_maps_camera_fixes_the_network_shape_built_and_warmed(tmp_path, monkeypatch,
                                                                  tiny_ckpt):
    """TensorRT's engines have one shape and were built for a 4:3 camera whatever the camera:
    every frame of a 16:9 camera (RealSense 1280x720) was refused (a fresh user's find). The
    localizer now passes its map's camera to the engine."""
    from mast3r_ros.core.config import Config, ModelConfig
    from mast3r_ros.replay.synthetic import default_intrinsics
    from mast3r_ros.core.keyframes import write_map
    from mast3r_ros.core.localizer import Localizer
    from mast3r_ros.core.model import tensorrt_backend as tb

    built = []

    def fake_trt(path, device="cuda", *, size, net_shape, keyframe_batch=1, cache_dir=""):
        built.append(net_shape)
        raise KeyboardInterrupt  # stop here: only the shape is checked
    monkeypatch.setattr(tb.TensorRTEngine, "from_checkpoint", staticmethod(fake_trt))
    cfg = ModelConfig(checkpoint=tiny_ckpt, backend="tensorrt", image_size=512)
    for camera, shape in (((1280, 720), (288, 512)), ((640, 480), (384, 512)), (None, (384, 512))):
        with pytest.raises(KeyboardInterrupt):
            Mast3rEngine.from_config(cfg, camera_size=camera)
        assert built[-1] == shape, camera
    path = str(tmp_path / "wide_map")
    rgb = np.zeros((72, 128, 3), np.uint8)
    write_map(path, [(rgb, default_intrinsics(128, 72), np.eye(4), 0, None)])
    full = Config()
    full = dataclasses.replace(full, model=cfg)
    with pytest.raises(KeyboardInterrupt):
        Localizer.from_config(full, path)
    assert built[-1] == (288, 512)
