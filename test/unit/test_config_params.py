"""One parameter's ROS typing and range check (`core.config.validate_param`) and the
config <-> flat-parameter mapping (`config_from_params`, `config_to_params`), checked against
ROS 2's rules and hand-written expectations: the cases the other tests could not fail on."""

import math
import re

import pytest

from mast3r_ros.core.config import (
    Config,
    LocalizerConfig,
    PnPConfig,
    check_config_section,
    config_from_params,
    config_to_params,
    param_specs,
    validate_param,
)
from mast3r_ros.core.errors import ConfigError


def test_a_bool_is_neither_an_integer_nor_a_double():
    """ROS 2 types parameters strictly: 'true' is a bool, never the integer 1 or the double 1.0
    (rclpy refuses it for an integer or double parameter), though Python's bool is an int."""
    for name, kind in (("max_keyframes", "int"), ("tf_publish_rate", "float")):
        for value in (True, False):
            with pytest.raises(ConfigError, match=rf"'{name}' must be {kind}, got bool {value}$"):
                validate_param(name, value)
    with pytest.raises(ConfigError, match=r"'publish_tf' must be bool, got int 1$"):
        validate_param("publish_tf", 1)


def test_an_integer_for_a_double_becomes_the_double():
    value = validate_param("tf_publish_rate", 3)
    assert value == 3.0 and type(value) is float
    assert type(validate_param("max_keyframes", 3)) is int


def test_a_non_finite_double_is_refused_as_not_finite():
    """nan fails every range comparison, and inf is outside every range: either would read as
    'must be in [...]', which hides what is wrong."""
    for value in (math.nan, math.inf, -math.inf):
        with pytest.raises(ConfigError, match=rf"'tf_publish_rate' must be finite, got {value}$"):
            validate_param("tf_publish_rate", value)


def test_type_hints_suggest_only_a_fix_that_keeps_the_value():
    # 2.0 for an integer: write 2; 2.5 has no integer spelling, so no hint at all
    with pytest.raises(ConfigError, match=r"got float 2\.0: write 2 \(ROS 2 types"):
        validate_param("max_keyframes", 2.0)
    with pytest.raises(ConfigError) as e:
        validate_param("max_keyframes", 2.5)
    assert str(e.value) == "config: parameter 'max_keyframes' must be int, got float 2.5"
    # a quoted boolean, in any case and with spaces: ROS reads it bare as the bool
    for text, bare in ((" True ", "true"), ("FALSE", "false")):
        with pytest.raises(ConfigError, match=rf"got str '{text}': write {bare} without quotes$"):
            validate_param("publish_tf", text)
    with pytest.raises(ConfigError) as e:
        validate_param("publish_tf", "yes please")
    assert str(e.value) == "config: parameter 'publish_tf' must be bool, got str 'yes please'"


def test_a_quoted_number_for_a_double_says_to_write_it_without_quotes():
    """`max_gap_s: "0.2"` (the new user) read "must be float, got str '0.2'" with no fix,
    where a quoted boolean says "write true without quotes"; text that is no number keeps the
    plain words."""
    for text, bare in (("0.2", "0.2"), (" 1e-3 ", "1e-3")):
        with pytest.raises(ConfigError) as e:
            validate_param("pose_at_stamp.max_gap_s", text)
        assert str(e.value) == (f"config: parameter 'pose_at_stamp.max_gap_s' must be float, "
                                f"got str {text!r}: write {bare} without quotes")
    for text in ("fast", "nan"):
        with pytest.raises(ConfigError) as e:
            validate_param("pose_at_stamp.max_gap_s", text)
        assert str(e.value).endswith(f"got str {text!r}")


def test_an_unknown_name_suggests_the_parameter_of_that_name_in_its_section():
    """'min_inliers' is 'gates.min_inliers' (the section prefix forgotten or wrong); difflib
    alone (similarity 0.79) would not suggest it."""
    for name in ("min_inliers", "pnp.min_inliers"):
        with pytest.raises(ConfigError, match=rf"unknown parameter '{re.escape(name)}' \(did you "
                                              r"mean 'gates\.min_inliers'\?\)$"):
            validate_param(name, 30)
    with pytest.raises(ConfigError) as e:
        validate_param("zzz", 1, where="p.yaml")
    assert str(e.value) == "p.yaml: unknown parameter 'zzz'"


def test_a_misspelled_top_level_name_suggests_across_sections():
    """A fresh user's finding: 'min_inlier: 30' at the top of a params YAML said only "unknown
    parameter 'min_inlier'", while under 'gates:' it suggested 'gates.min_inliers'."""
    for name in ("min_inlier", "gates.min_inlier"):
        with pytest.raises(ConfigError, match=rf"unknown parameter '{re.escape(name)}' \(did you "
                                              r"mean 'gates\.min_inliers'\?\)$"):
            validate_param(name, 30)


def test_range_bounds_are_inclusive_and_the_next_value_out_is_refused():
    """Every range is closed: [lo, hi] as the descriptors publish it (FloatingPointRange and
    IntegerRange are inclusive in ROS 2)."""
    ranged = [s for s in param_specs() if s.lo is not None]
    assert ranged
    for spec in ranged:
        for bound in (spec.lo, spec.hi):
            assert validate_param(spec.name, spec.type(bound)) == bound, (spec.name, bound)
        if spec.type is int:
            outside = (int(spec.lo) - 1, int(spec.hi) + 1)
        else:
            outside = (math.nextafter(spec.lo, -math.inf), math.nextafter(spec.hi, math.inf))
        for value in outside:
            words = r"in \[" if spec.zero_or_at_least is None else r"0 \(.*\) or in \["
            with pytest.raises(ConfigError, match=rf"'{spec.name}' must be {words}"):
                validate_param(spec.name, value)


def test_ransac_max_points_is_0_or_at_least_4_where_the_solver_finds_a_pose():
    """1 to 3 matches failed every frame (or many: 3 is P3P's minimum, without a 4th to pick
    among its poses); 4 is the least both backends solve exact correspondences with. The
    descriptor keeps the range [0, 1e6] (a ROS range has no gap); the description says it."""
    for ok in (0, 4, 5, 512):
        assert validate_param("pnp.ransac_max_points", ok) == ok
        assert config_from_params({"pnp.ransac_max_points": ok}).localizer.pnp \
            .ransac_max_points == ok
    for bad in (1, 2, 3, -1, 1000001):  # -1 was 'must be in [0, 1000000]', 2 inside it
        with pytest.raises(ConfigError, match=r"^p.yaml: parameter 'pnp.ransac_max_points' must "
                                              rf"be 0 \(all\) or in \[4, 1000000\], got {bad}$"):
            config_from_params({"pnp": {"ransac_max_points": bad}}, "p.yaml")
    with pytest.raises(ConfigError, match=r"must be 0 \(all\) or >= 4, got -1$"):
        check_config_section(LocalizerConfig(pnp=PnPConfig(ransac_max_points=-1)),
                             LocalizerConfig, "Localizer")
    with pytest.raises(ConfigError, match=r"must be 0 \(all\) or >= 4, got 2"):
        check_config_section(LocalizerConfig(pnp=PnPConfig(ransac_max_points=2)),
                             LocalizerConfig, "Localizer")
    spec = next(s for s in param_specs() if s.name == "pnp.ransac_max_points")
    assert (spec.lo, spec.hi) == (0, 1000000) and "0 or at least 4" in spec.description


def test_choices_and_patterns_hold_for_the_whole_value():
    assert validate_param("image_size", 384) == 384
    with pytest.raises(ConfigError, match=r"'image_size' must be one of \[512, 384, 224\], "
                                          r"got 385$"):
        validate_param("image_size", 385)
    for device in ("auto", "cpu", "cuda", "cuda:0", "cuda:12"):
        assert validate_param("device", device) == device
    for device in ("cpu ", "xcpu", "cuda:0x", "cuda:1:2", "cudax", "auto\n"):
        with pytest.raises(ConfigError, match="'device' must be auto, cpu, cuda or cuda:N"):
            validate_param("device", device)


# one valid value, other than the default, per parameter: what config_to_params must read back
def _another_value(spec):
    if spec.choices is not None:
        return next(c for c in spec.choices if c != spec.default)
    if spec.type is bool:
        return not spec.default
    if spec.pattern is not None:  # the device
        return "cpu" if spec.default != "cpu" else "cuda:1"
    if spec.type is str:
        return spec.default + "_x" if spec.default else "x"
    if spec.lo is None:
        return spec.default + 1
    return spec.type(spec.hi) if spec.default != spec.hi else spec.type(spec.lo)


def test_every_parameter_sets_its_own_field_and_reads_back():
    """A value other than the default for every parameter at once: each must land in its own
    field (a swapped key or prefix would move one) and `config_to_params` read it back."""
    values = {s.name: _another_value(s) for s in param_specs()}
    cfg = config_from_params(values)
    assert cfg != Config()
    assert config_to_params(cfg) == values
    assert config_from_params(config_to_params(cfg)) == cfg
    # the ROS name is the section prefix and the field name (hand-written)
    for name, field in (("gates.min_inliers", lambda c: c.localizer.gates.min_inliers),
                        ("matching.subsample", lambda c: c.localizer.matching.subsample),
                        ("pnp.reproj_error_px", lambda c: c.localizer.pnp.reproj_error_px),
                        ("covariance.map_pose_sigma_m",
                         lambda c: c.localizer.covariance.map_pose_sigma_m),
                        ("max_keyframes", lambda c: c.localizer.max_keyframes),
                        ("checkpoint", lambda c: c.model.checkpoint),
                        ("retrieval.checkpoint", lambda c: c.retrieval.checkpoint),
                        ("map_build.min_translation_m", lambda c: c.map_build.min_translation_m),
                        ("tf_publish_rate", lambda c: c.node.tf_publish_rate),
                        ("confirm_frames", lambda c: c.tracking.confirm_frames)):
        assert field(cfg) == values[name] != field(Config()), name


def test_unset_parameters_keep_the_base_configs_values():
    """`base` is what the command-line options are laid over (the --params file's config)."""
    base = config_from_params({"matcher": "sift", "max_keyframes": 4, "gates.min_inliers": 50})
    cfg = config_from_params({"max_keyframes": 7}, where="command line", base=base)
    assert (cfg.localizer.matcher, cfg.localizer.max_keyframes,
            cfg.localizer.gates.min_inliers) == ("sift", 7, 50)
    assert base.localizer.max_keyframes == 4
    assert config_from_params({}) == Config()


@pytest.mark.parametrize("name", ["map_check.max_depth_residual", "map_check.min_depth_agree",
                                  "map_check.max_reproj_frac", "map_check.depth_tolerance"])
def test_a_percentage_typed_for_a_map_check_fraction_is_refused_as_such(name):
    """`max_depth_residual: 5.0` (meant as 5 %) was accepted (range up to 10.0) and turned the
    check off, while check-map printed the limit as 5.0 % for 0.05 (a fresh user's find): a
    fraction's range ends at 1.0 and its error says it is a fraction."""
    spec = {s.name: s for s in param_specs()}[name]
    with pytest.raises(ConfigError) as e:
        validate_param(name, 5.0, where="p.yaml")
    assert str(e.value) == (f"p.yaml: parameter '{name}' must be in [{spec.lo}, 1.0] (a "
                            "fraction: 0.05 is 5 %), got 5.0")
    assert spec.fraction and spec.hi == 1.0
    assert "fraction" not in str(pytest.raises(ConfigError, validate_param,
                                               "map_check.neighbours", 99).value)


def test_numpy_scalars_are_the_python_numbers_they_hold():
    """np.int64(3) and np.float32(3.0) (a value read from an array) were refused as 'int64' /
    'float32'; they are taken as 3 and 3.0, converted to Python's int and float."""
    import numpy as np

    cfg = config_from_params({"max_keyframes": np.int64(3), "tf_publish_rate": np.float32(3.0)})
    assert cfg.localizer.max_keyframes == 3 and type(cfg.localizer.max_keyframes) is int
    rate = validate_param("tf_publish_rate", np.float32(2.5))
    assert rate == 2.5 and type(rate) is float
    for value in (np.int32(4), np.uint8(4)):
        out = validate_param("tf_publish_rate", value)
        assert out == 4.0 and type(out) is float
    assert type(validate_param("max_keyframes", np.uint16(2))) is int
    flag = validate_param("publish_tf", np.bool_(False))
    assert flag is False
    # every refusal stays: a float for an int, a bool for a number, a range, non-finite
    with pytest.raises(ConfigError, match=r"'max_keyframes' must be int, got float 2\.0: write 2"):
        validate_param("max_keyframes", np.float32(2.0))
    for name, kind in (("max_keyframes", "int"), ("tf_publish_rate", "float")):
        with pytest.raises(ConfigError, match=rf"'{name}' must be {kind}, got bool True$"):
            validate_param(name, np.bool_(True))
    with pytest.raises(ConfigError, match=r"'publish_tf' must be bool, got int 1$"):
        validate_param("publish_tf", np.int64(1))
    with pytest.raises(ConfigError, match=r"'max_keyframes' must be in \[1, 32\], got 0$"):
        validate_param("max_keyframes", np.int64(0))
    with pytest.raises(ConfigError, match=r"'tf_publish_rate' must be finite, got nan$"):
        validate_param("tf_publish_rate", np.float32("nan"))


def test_nested_sections_are_read_as_the_shipped_yaml_writes_them():
    """config_from_params refused the nested form config/localize.yaml uses ('gates:
    {min_inliers: 10}': unknown parameter 'gates'), while the --params reader took it."""
    import yaml
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "localize.yaml"
    with open(shipped, encoding="utf-8") as fh:
        shipped = yaml.safe_load(fh)["/**/mast3r_localizer"]["ros__parameters"]
    assert config_to_params(config_from_params(shipped)) == config_to_params(Config())
    cfg = config_from_params({"gates": {"min_inliers": 10}})
    assert cfg == config_from_params({"gates.min_inliers": 10})
    assert cfg.localizer.gates.min_inliers == 10
    with pytest.raises(ConfigError, match=r"^config: unknown parameter 'gates\.min_inlier' "
                                          r"\(did you mean 'gates\.min_inliers'\?\)$"):
        config_from_params({"gates": {"min_inlier": 10}})
    # a mapping for a parameter (not a section) is the one-value error, not an unknown name
    with pytest.raises(ConfigError, match=r"'max_keyframes' must be int, got dict .*: one value"):
        config_from_params({"max_keyframes": {"a": 1}})


def test_a_key_given_dotted_and_nested_is_refused_as_a_duplicate_naming_both():
    """'gates.min_inliers: 5' plus 'gates: {min_inliers: 6}' silently took the later one."""
    for params in ({"gates.min_inliers": 5, "gates": {"min_inliers": 6}},
                   {"gates": {"min_inliers": 6}, "gates.min_inliers": 5}):
        with pytest.raises(ConfigError) as e:
            config_from_params(params, where="p.yaml")
        msg = str(e.value)
        assert msg.startswith("p.yaml: duplicate key 'gates.min_inliers' "), msg
        assert "'gates.min_inliers'" in msg and "'gates: {min_inliers: ...}'" in msg, msg
        assert "merge them, or delete one" in msg and "\n" not in msg, msg


def test_a_numpy_string_becomes_str_and_bytes_are_refused_with_a_hint(tmp_path):
    """np.str_ (a string read from an array) stayed np.str_ in the Config, and
    dump_config_yaml then failed with yaml's RepresenterError."""
    import numpy as np
    import yaml

    from mast3r_ros.core.config import dump_config_yaml

    cfg = config_from_params({"matcher": np.str_("sift")})
    assert type(cfg.localizer.matcher) is str
    assert type(validate_param("matcher", np.str_("sift"))) is str
    dump_config_yaml(cfg, str(tmp_path / "x.yaml"))
    assert "sift" in yaml.safe_load((tmp_path / "x.yaml").read_text()).__repr__()
    for value in (b"sift", np.bytes_(b"sift")):
        with pytest.raises(ConfigError, match=r"'matcher' must be str, got bytes.*decode it "
                                              r"\(\.decode\(\)\)"):
            validate_param("matcher", value)


@pytest.mark.parametrize("params", [["matcher", "sift"], "matcher=sift", None])
def test_params_that_are_not_a_mapping_are_a_config_error_naming_the_type(params):
    # a list was an AttributeError ('list' object has no attribute 'items')
    with pytest.raises(ConfigError, match=r"config_from_params takes a mapping .*got "
                                          + type(params).__name__):
        config_from_params(params)


def test_config_to_params_refuses_a_section_or_other_object(tmp_path):
    """`config_to_params` (and `dump_config_yaml` through it) given a section (``cfg.localizer``)
    or a dict failed with an AttributeError ("'LocalizerConfig' object has no attribute
    'model'"); a `ConfigError` now says it takes the whole Config."""
    from mast3r_ros.core.config import dump_config_yaml

    for bad in (Config().localizer, {"matcher": "sift"}):
        with pytest.raises(ConfigError, match="takes the whole Config"):
            config_to_params(bad)
        with pytest.raises(ConfigError, match="takes the whole Config"):
            dump_config_yaml(bad, str(tmp_path / "x.yaml"))
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("kwargs, match", [
    ({"tolerance_s": -0.01}, r"'pose_at_stamp.tolerance_s' must be in \[0.0, 10.0\], got -0.01"),
    ({"max_gap_s": math.nan}, r"'pose_at_stamp.max_gap_s' must be finite, got nan"),
    ({"tolerance_s": math.inf}, r"'pose_at_stamp.tolerance_s' must be finite, got inf"),
    ({"tolerance_s": "0.1"}, r"'pose_at_stamp.tolerance_s' must be float, got str '0.1'"),
    ({"max_gap_s": True}, r"'pose_at_stamp.max_gap_s' must be float, got bool True"),
])
def test_a_pose_at_stamp_config_made_in_python_is_checked_when_made(kwargs, match):
    """PoseAtStampConfig is made in Python for the readers (TumSequence, BagSequence): NaN
    failed deep inside ('cannot convert float NaN to integer'), inf with an OverflowError, text
    with a TypeError, and a bool was taken as 1 s; now a ConfigError naming the parameter."""
    from mast3r_ros.core.config import PoseAtStampConfig

    with pytest.raises(ConfigError, match=r"PoseAtStampConfig: parameter " + match):
        PoseAtStampConfig(**kwargs)
    rule = PoseAtStampConfig(tolerance_s=1, max_gap_s=60.0)  # an int is the float it holds
    assert (rule.tolerance_s, rule.max_gap_s) == (1.0, 60.0) and type(rule.tolerance_s) is float


def test_the_video_image_transports_are_accepted_for_the_node():
    """``image_transport: ffmpeg`` (or foxglove) was refused, the node then reading video from
    bags only; the node now subscribes to video itself (`ros/video_input.py`)."""
    for transport in ("ffmpeg", "foxglove"):
        assert validate_param("image_transport", transport) == transport
    with pytest.raises(ConfigError, match=r"must be one of \['raw', 'compressed', 'ffmpeg', "
                                          r"'foxglove'\], got 'x'$"):
        validate_param("image_transport", "x")


def test_a_block_for_every_node_does_not_match_other_nodes_names_across_sections(tmp_path, caplog):
    """A name at the top level of a block for every node (``/**``) is expected to be another
    node's (Nav2's ``tolerance``): the cross-section match of a misspelled top-level name would
    warn of it as a typo of ``pose_at_stamp.tolerance_s``; a letter away from one of ours
    (``max_keyframe``) is still said."""
    import logging

    from mast3r_ros.core.config import did_you_mean, load_config_yaml

    assert did_you_mean("tolerance", every_node=True) == ""
    assert did_you_mean("max_keyframe", every_node=True) == " (did you mean 'max_keyframes'?)"
    assert did_you_mean("min_inlier") == " (did you mean 'gates.min_inliers'?)"
    path = tmp_path / "nav2.yaml"
    path.write_text("/**:\n  ros__parameters:\n    tolerance: 0.5\n    max_gap: 2.0\n"
                    "    max_keyframe: 3\n")
    with caplog.at_level(logging.WARNING):
        load_config_yaml(str(path))
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and "'max_keyframe'" in said[0], said
