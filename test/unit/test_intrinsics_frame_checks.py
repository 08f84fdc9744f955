"""Boundary checks of `CameraIntrinsics` and `Frame` (core/types.py): malformed K, distortion
models and counts, non-finite values, wrong types and shapes are refused with an `InputError`
naming the bad value; every legitimate input (ROI-shifted principal points, skew, empty or
all-zero coefficients, numpy ints, HxWx1 depth) still passes. Tiny synthetic arrays only."""

from __future__ import annotations

import numpy as np
import pytest

from mast3r_ros.core.errors import InputError
from mast3r_ros.core.image_codec import intrinsics_from_camera_info
from mast3r_ros.core.types import CameraIntrinsics, Frame

W, H = 640, 480
K = np.array([[585.0, 0.0, 319.5], [0.0, 585.0, 239.5], [0.0, 0.0, 1.0]])
RGB = np.zeros((H, W, 3), np.uint8)


def _cam(**kw) -> CameraIntrinsics:
    args = dict(width=W, height=H, K=K.copy())
    args.update(kw)
    return CameraIntrinsics(**args)


# ------------------------------------------------------------------------------ 1. K ---

def test_transposed_k_refused_as_transposed():
    with pytest.raises(InputError, match=r"K looks transposed: its bottom row is "
                                         r"\[319\.5, 239\.5, 1\.0\].*pass K\.T"):
        _cam(K=K.T)


def test_scaled_k_refused():
    with pytest.raises(InputError, match=r"bottom row must be \[0, 0, 1\], got "
                                         r"\[0\.0, 0\.0, 2\.0\]; divide K by K\[2,2\] = 2\.0"):
        _cam(K=K * 2)


@pytest.mark.parametrize("entry, match", [
    ((1, 0), r"K\[1,0\] must be 0, got 3\.0 \(only K\[0,1\], the skew"),
    ((2, 0), r"bottom row must be \[0, 0, 1\], got \[3\.0, 0\.0, 1\.0\]"),
    ((2, 1), r"bottom row must be \[0, 0, 1\], got \[0\.0, 3\.0, 1\.0\]"),
])
def test_nonzero_lower_entries_refused(entry, match):
    bad = K.copy()
    bad[entry] = 3.0
    with pytest.raises(InputError, match=match):
        _cam(K=bad)


def test_skew_and_flat_k_still_accepted():
    skewed = K.copy()
    skewed[0, 1] = 0.7
    assert _cam(K=skewed).K[0, 1] == 0.7
    cam = _cam(K=list(K.reshape(-1)))
    assert cam.K.shape == (3, 3) and cam.K.dtype == np.float64


def test_principal_point_outside_the_image_accepted_when_plausible():
    # image_geometry semantics: a ROI far from the calibrated principal point shifts it out of
    # the streamed image (here a 100x80 corner ROI of a 4000x3000 calibration).
    cam = intrinsics_from_camera_info(4000, 3000, [2000.0, 0, 1999.5, 0, 2000.0, 1499.5, 0, 0, 1],
                                      [], "plumb_bob", roi=(3900, 2920, 100, 80))
    assert cam.K[0, 2] == pytest.approx(-1900.5) and cam.K[1, 2] == pytest.approx(-1420.5)
    # the case camerainfo-binning-roi: 320x240 ROI at (160, 120) of a 640x480 calibration
    roi = intrinsics_from_camera_info(640, 480, K.reshape(-1), [], "plumb_bob",
                                      roi=(160, 120, 320, 240))
    assert (roi.width, roi.height) == (320, 240) and roi.K[0, 2] == 159.5
    # a 640x480 K on a 320x240 resize is not detectable (documented as the caller's duty)
    assert _cam(width=320, height=240).K[0, 2] == 319.5


def test_principal_point_in_other_units_refused():
    normalised = np.array([[0.9, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1]])  # K / image size
    with pytest.raises(InputError, match=r"principal point \(cx, cy\) = \(0\.5, 0\.5\) is 354 "
                                         r"focal lengths .* 640x480 image"):
        _cam(K=normalised)


def test_a_subnormal_focal_length_is_refused_without_a_numpy_warning():
    """fx = 1e-320 (a KITTI calib.txt P0 edited so) overflowed the principal point's offset in
    focal lengths: numpy's RuntimeWarning printed two lines before the CLI's one-line error."""
    import warnings

    k = K.copy()
    k[0, 0], k[0, 2] = 1e-320, 300.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=r"is inf focal lengths \(fx=1e-320"):
            _cam(K=k)


def test_k_of_wrong_size_or_type_is_an_input_error():
    with pytest.raises(InputError, match=r"3x3 \(or 9 row-major values\), got shape \(2, 3\)"):
        _cam(K=K[:2])
    with pytest.raises(InputError, match="camera matrix K must be 3x3 numbers"):
        _cam(K="not a matrix")


# ------------------------------------------------------------------ 2. distortion ---

@pytest.mark.parametrize("model", ["fisheye", "foo", "Plumb_Bob"])
def test_unknown_distortion_model_refused(model):
    with pytest.raises(InputError, match=rf"CameraIntrinsics.distortion_model: unsupported "
                                         rf"distortion model '{model}'; supported: plumb_bob, "
                                         r"rational_polynomial, equidistant"):
        _cam(dist=[0.1, 0, 0, 0], distortion_model=model)


@pytest.mark.parametrize("model, n", [("equidistant", 5), ("plumb_bob", 3),
                                      ("rational_polynomial", 3), ("plumb_bob", 6)])
def test_wrong_coefficient_count_refused(model, n):
    # (plumb_bob with 8 or rational_polynomial with 5 is read by its count, as OpenCV reads it:
    # test_opencv_coefficients_are_read_by_their_count_as_opencv_reads_them)
    with pytest.raises(InputError, match=r"CameraIntrinsics.dist: \w+ expects .* "
                                         rf"coefficients, got {n}; pass k1"):
        _cam(dist=[0.01] * n, distortion_model=model)


@pytest.mark.parametrize("model, n", [("rational_polynomial", 3), ("plumb_bob", 6)])
def test_a_camera_info_must_name_its_model_right(model, n):
    # (rational_polynomial with 4 or 5 and plumb_bob with 8, 12 or 14 are accepted, as
    # image_geometry and OpenCV read them: test_a_short_rational_polynomial_d_is_read_as_
    # image_geometry_reads_it, test_a_plumb_bob_d_of_a_rational_count_is_read_as_opencv_reads_it)
    with pytest.raises(InputError, match=rf"CameraInfo D: {model} expects .* coefficients, "
                                         rf"got {n}"):
        intrinsics_from_camera_info(W, H, K.reshape(-1), [0.01] * n, model)


def test_non_finite_coefficient_refused():
    with pytest.raises(InputError, match=r"distortion coefficient 2 is nan .*got "
                                         r"\[0\.1, 0\.0, nan, 0\.0, 0\.0\]"):
        _cam(dist=[0.1, 0.0, np.nan, 0.0, 0.0])
    with pytest.raises(InputError, match=r"CameraInfo D: distortion coefficient 0 is inf"):
        intrinsics_from_camera_info(W, H, K.reshape(-1), [np.inf, 0, 0, 0], "equidistant")


@pytest.mark.parametrize("model, counts", [("plumb_bob", (0, 4, 5)),
                                           ("rational_polynomial", (0, 8, 12, 14)),
                                           ("equidistant", (0, 4))])
def test_empty_and_zero_coefficients_kept_working(model, counts):
    for n in counts:
        for dist in (np.zeros(n), np.full(n, 0.01)):
            cam = _cam(dist=dist, distortion_model=model)
            assert cam.distortion_model == model and cam.dist.shape == (n,)
            assert cam.has_distortion == bool(n and dist.any())
            info = intrinsics_from_camera_info(W, H, K.reshape(-1), dist, model)
            assert info.distortion_model == model and info.dist.shape == (n,)


def test_empty_model_means_plumb_bob_without_distortion_only():
    assert _cam(distortion_model="").distortion_model == "plumb_bob"
    assert _cam(dist=np.zeros(5), distortion_model="").distortion_model == "plumb_bob"
    with pytest.raises(InputError, match=r"unsupported distortion model ''.*name the model of "
                                         r"the 5 coefficients"):
        _cam(dist=[0.1, 0, 0, 0, 0], distortion_model="")


def test_camera_info_and_intrinsics_share_the_check():
    from mast3r_ros.core import types
    from mast3r_ros.core.image_codec import camera_info

    assert camera_info.check_distortion is types.check_distortion
    with pytest.raises(InputError, match="CameraInfo D: equidistant expects"):
        intrinsics_from_camera_info(W, H, K.reshape(-1), [0.1] * 5, "equidistant")


# ------------------------------------------------------------------ 3. messages ---

def test_non_finite_k_names_the_entry():
    bad = K.copy()
    bad[0, 2] = np.nan
    with pytest.raises(InputError, match=r"K\[0,2\] \(cx\) is nan: every entry must be finite"):
        _cam(K=bad)
    bad = K.copy()
    bad[1, 1] = np.inf
    with pytest.raises(InputError, match=r"K\[1,1\] \(fy\) is inf"):
        _cam(K=bad)


def test_depth_shape_message_prints_numpy_shape():
    with pytest.raises(InputError, match=r"Frame.depth_m has shape \(10, 640\) but the image is "
                                         r"640x480 \(width x height\), shape \(480, 640\)"):
        Frame(RGB, None, 0, depth_m=np.zeros((10, 640), np.float32))
    with pytest.raises(InputError, match=r"has shape \(480, 640, 2\)"):
        Frame(RGB, None, 0, depth_m=np.zeros((H, W, 2), np.float32))


def test_depth_with_one_channel_axis_accepted():
    depth = np.ones((H, W, 1), np.float32)
    f = Frame(RGB, _cam(), 0, depth_m=depth)
    assert f.depth_m.shape == (H, W) and np.shares_memory(f.depth_m, depth)


# -------------------------------------------------------------------- 4. types ---

def test_rgb_that_is_not_an_array_is_an_input_error():
    with pytest.raises(InputError, match=r"Frame.rgb must be a numpy array \(H, W, 3\) uint8 "
                                         r"RGB, got list"):
        Frame(rgb=RGB.tolist(), intrinsics=None, stamp_ns=0)
    with pytest.raises(InputError, match=r"Frame.depth_m must be a numpy array.*got list"):
        Frame(RGB, None, 0, depth_m=[[0.0] * W] * H)
    with pytest.raises(InputError, match="Frame.intrinsics must be a CameraIntrinsics"):
        Frame(RGB, {"width": W, "height": H}, 0)


@pytest.mark.parametrize("pose, match", [
    (np.eye(4)[:3], r"got shape \(3, 4\); append the row \[0, 0, 0, 1\]"),
    (np.full((4, 4), np.nan), "non-finite entries; pass None"),
    (np.eye(3), r"got shape \(3, 3\)"),
])
def test_map_from_cam_must_be_finite_4x4(pose, match):
    with pytest.raises(InputError, match=r"Frame.map_from_cam must be a finite 4x4 pose.*" + match):
        Frame(RGB, None, 0, map_from_cam=pose)


def test_map_from_cam_none_or_4x4_kept():
    assert Frame(RGB, None, 0).map_from_cam is None
    f = Frame(RGB, None, 0, map_from_cam=np.eye(4).tolist())
    assert isinstance(f.map_from_cam, np.ndarray) and f.map_from_cam.dtype == np.float64


@pytest.mark.parametrize("stamp", [1.5, 0.0, None, True, "123", np.float64(2.0)])
def test_stamp_must_be_integer_ns(stamp):
    with pytest.raises(InputError, match=r"Frame.stamp_ns must be an integer number of "
                                         r"nanoseconds, got .*int\(round\(t \* 1e9\)\)"):
        Frame(RGB, None, stamp)


def test_integer_stamps_accepted_as_int():
    for stamp in (0, 1_700_000_000_123_456_789, np.int64(5), np.uint32(7)):
        f = Frame(RGB, None, stamp)
        assert type(f.stamp_ns) is int and f.stamp_ns == int(stamp)


def test_size_integral_floats_converted_fractions_refused():
    cam = CameraIntrinsics(640.0, np.float32(480.0), K)
    assert (cam.width, cam.height) == (640, 480)
    assert type(cam.width) is int and type(cam.height) is int
    cam = CameraIntrinsics(np.int64(640), np.int32(480), K)
    assert type(cam.width) is int and type(cam.height) is int
    with pytest.raises(InputError, match=r"CameraIntrinsics.width must be a whole number of "
                                         r"pixels, got 640\.5"):
        CameraIntrinsics(640.5, 480, K)
    for bad in ("640", True, None, float("nan")):
        with pytest.raises(InputError, match="CameraIntrinsics.width must be a whole number"):
            CameraIntrinsics(bad, 480, K)
    with pytest.raises(InputError, match="CameraIntrinsics.height must be positive, got 0"):
        CameraIntrinsics(640, 0.0, K)


# ------------------------------------------------ what OpenCV accepts stays accepted (review) ---

def test_opencv_coefficients_are_read_by_their_count_as_opencv_reads_them():
    # cv2.calibrateCamera(CALIB_RATIONAL_MODEL) gives 8 coefficients; the Python user leaves the
    # model at its default -- and maps written that way before must still load
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    eight = [0.01, -0.01, 0, 0, 0.001, 0, 0, 0]
    cam = CameraIntrinsics(640, 480, K, eight)
    assert cam.distortion_model == "rational_polynomial" and cam.dist.size == 8
    five = CameraIntrinsics(640, 480, K, eight[:5], "rational_polynomial")
    assert five.distortion_model == "plumb_bob" and five.has_distortion
    zeros = CameraIntrinsics(640, 480, K, np.zeros(14), "plumb_bob")
    assert not zeros.has_distortion
    odd_zeros = CameraIntrinsics(640, 480, K, np.zeros(3), "plumb_bob")
    assert not odd_zeros.has_distortion and odd_zeros.dist.size == 0
    with pytest.raises(InputError, match="expects"):
        CameraIntrinsics(640, 480, K, [0.1, 0.01, 0.0])  # OpenCV refuses 3
    with pytest.raises(InputError, match="equidistant expects"):
        CameraIntrinsics(640, 480, K, eight[:5], "equidistant")
    # a K that went through float32 or a text file
    K32 = K.copy()
    K32[2, 2] = 1 + 1e-7
    CameraIntrinsics(640, 480, K32)


def test_a_map_written_with_eight_coefficients_and_the_default_model_still_loads():
    from mast3r_ros.core.keyframes.table import KEYFRAME_DTYPE, KeyframeTable

    rows = np.zeros(1, KEYFRAME_DTYPE)
    rows["map_from_cam"] = np.eye(4)
    rows["width"], rows["height"] = 640, 480
    rows["K"] = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    rows["dist"][0, :8] = [0.01, -0.01, 0, 0, 0.001, 0, 0, 0]
    rows["dist_count"] = 8
    rows["depth_bytes"] = -1
    cam = KeyframeTable(rows, ["plumb_bob"])[0].intrinsics
    assert cam.distortion_model == "rational_polynomial" and cam.dist.size == 8


def test_dist_none_is_no_distortion_as_in_opencv():
    """dist=None (OpenCV's distCoeffs=None) became one NaN coefficient and was refused as
    'plumb_bob expects (0, 4, 5) distortion coefficients, got 1'."""
    for model in ("plumb_bob", "rational_polynomial", "equidistant"):
        cam = _cam(dist=None, distortion_model=model)
        assert cam.dist.shape == (0,) and cam.dist.dtype == np.float64 and not cam.has_distortion


@pytest.mark.parametrize("field", ["K", "dist"])
def test_complex_k_or_coefficients_refused_not_truncated(field):
    # were accepted with numpy's ComplexWarning only, the imaginary part dropped
    value = (K.astype(complex) + 1e-3j) if field == "K" else np.array([0.1, 0, 0, 0], complex)
    with pytest.raises(InputError, match=r"complex"):
        _cam(**{field: value})


def test_class_docstring_tells_the_relabelling_by_count():
    doc = " ".join(CameraIntrinsics.__doc__.split())
    assert "8 coefficients named 'plumb_bob'" in doc and "stored as 'rational_polynomial'" in doc


def test_a_float_image_gets_a_hint_that_works():
    """The hint was image_codec.to_rgb8(array, encoding), which refuses every float array."""
    a = RGB.astype(np.float32) / 255
    with pytest.raises(InputError, match=r"float32.*np\.clip\(a, 0, 1\) \* 255\)\.round\(\)"
                                         r"\.astype\(np\.uint8\)") as err:
        Frame(a, None, 0)
    assert "to_rgb8" not in str(err.value)
    converted = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)  # the hint, as given
    assert np.array_equal(Frame(converted, None, 0).rgb, RGB)
    with pytest.raises(InputError, match=r"to_rgb8\(array, encoding\)"):  # still for the rest
        Frame(np.zeros((H, W, 3), np.uint16), None, 0)


@pytest.mark.parametrize("stamp", [2**63, 2**70, -(2**63)])
def test_a_stamp_outside_int64_nanoseconds_is_refused_at_the_frame(stamp):
    """Frame(stamp_ns=2**70) was accepted and failed later in any int64 stamp array."""
    with pytest.raises(InputError, match=r"Frame.stamp_ns .*int64 nanoseconds"):
        Frame(RGB, None, stamp)
    # the int64 range's ends (a TUM file's, signed) are stamps
    assert Frame(RGB, None, 2**63 - 1).stamp_ns == 2**63 - 1
    assert Frame(RGB, None, -(2**63) + 1).stamp_ns == -(2**63) + 1


@pytest.mark.parametrize("field, args, match", [
    ("k", (W, H, ["a"] * 9, [], "plumb_bob"), "CameraInfo K must be 9 numbers"),
    ("d", (W, H, K.reshape(-1), ["x"], "plumb_bob"), "CameraInfo D must be the distortion"),
    ("width", ("640", H, K.reshape(-1), [], "plumb_bob"), "CameraInfo width must be a whole"),
    ("height", (W, 480.5, K.reshape(-1), [], "plumb_bob"), "CameraInfo height must be a whole"),
    ("width", (2**70, H, K.reshape(-1), [], "plumb_bob"), "CameraInfo width must be a whole"),
    ("width", (-640, H, K.reshape(-1), [], "plumb_bob"), "CameraInfo width must be a whole"),
])
def test_camera_info_fields_that_are_not_numbers_are_named(field, args, match):
    """`intrinsics_from_camera_info` let numpy's ValueError ('could not convert string to
    float') or a TypeError ('<=' between str and int) out, naming no field, and truncated a
    fractional height (480.5 -> 480) without a word: each is an `InputError` naming it."""
    with pytest.raises(InputError, match=match):
        intrinsics_from_camera_info(*args)


def test_a_rectification_matrix_that_is_not_numbers_is_named():
    """R went through a bare np.asarray: ['a'] * 9 raised numpy's ValueError naming no field."""
    from mast3r_ros.core.image_codec.camera_info import rectified_intrinsics_from_camera_info

    P = np.hstack([K, np.zeros((3, 1))]).reshape(-1)
    with pytest.raises(InputError, match="CameraInfo R must be 9 numbers"):
        rectified_intrinsics_from_camera_info(W, H, P, ["a"] * 9)
    assert rectified_intrinsics_from_camera_info(W, H, P, np.eye(3).reshape(-1)).width == W
