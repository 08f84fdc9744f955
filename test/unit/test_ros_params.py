"""The node's parameters, without ROS (`ros/params.py`)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from mast3r_ros.core.config import Config, param_specs
from mast3r_ros.core.errors import ConfigError
from mast3r_ros.ros import params

REQUIRED_PARAMS = ("map_frame", "odom_frame", "base_frame", "publish_tf", "transform_tolerance",
                   "tf_publish_rate", "map_path", "checkpoint", "device", "precision",
                   "image_size", "matcher", "max_keyframes", "gates.min_inliers",
                   "image_transport", "max_image_age_s", "publish_debug_image")


def node_params(**overrides):
    values = {s.name: s.default for s in param_specs()}
    values["map_path"] = "/maps/office"
    values.update(overrides)
    return values


def test_every_spec_has_a_descriptor():
    names = {s.name for s in param_specs()}
    for required in REQUIRED_PARAMS:
        assert required in names
    for spec in param_specs():
        d = params.parameter_descriptor_data(spec)
        assert d.name == spec.name and d.description.strip()
        assert type(d.default) is spec.type                # floats as floats, bools not ints
        assert d.type == {bool: "bool", int: "integer", float: "double", str: "string"}[spec.type]
        assert not d.name.startswith(("/", "~")) and " " not in d.name
        if spec.lo is not None:
            assert d.lo is not None and d.hi is not None and d.lo <= spec.default <= d.hi
            assert type(d.lo) is (int if spec.type is int else float)
        if spec.choices:
            assert spec.default in spec.choices and d.choices_text
            for c in spec.choices:
                assert str(c) in d.description
    assert [d.name for d in params.all_parameter_descriptors()] == [s.name for s in param_specs()]


def test_params_to_config_maps_every_parameter():
    cfg = params.params_to_config(node_params(**{"use_sim_time": True, "tf_publish_rate": 30,
                                             "gates.min_inliers": 50, "odom_frame": ""}))
    assert isinstance(cfg, Config)
    assert cfg.node.map_path == "/maps/office" and cfg.node.odom_frame == ""
    assert cfg.node.tf_publish_rate == 30.0 and isinstance(cfg.node.tf_publish_rate, float)
    assert cfg.localizer.gates.min_inliers == 50
    default = params.params_to_config(node_params())
    assert default.model == Config().model and default.localizer == Config().localizer


@pytest.mark.parametrize("name,value,match", [
    ("tf_publish_rate", "fast", "must be float"),
    ("transform_tolerance", 20.0, r"\[0.0, 10.0\]"),
    ("matcher", "orb", "one of"),
    ("gates.min_inliers", 2.5, "must be int"),
    ("publish_tf", 1, "must be bool"),
    ("image_size", 300, "one of"),
    ("map_frame", "/map", "must not start with '/'"),
    ("base_frame", "", "must not be empty"),
    ("odom_frame", "map", "must differ"),
    ("map_path", "", "map_path"),
])
def test_params_to_config_names_the_bad_key(name, value, match):
    with pytest.raises(ConfigError, match=match) as info:
        params.params_to_config(node_params(**{name: value}))
    assert name in str(info.value)


def test_an_empty_map_path_says_a_parameter_file_may_not_have_been_loaded():
    """A mistyped params_file:= is only warned about by launch_ros (issue #401): "map_path is
    empty" alone sent the user looking for the map, not for the file."""
    with pytest.raises(ConfigError) as info:
        params.params_to_config(node_params(map_path=""))
    msg = str(info.value)
    assert "map:=/path/to/map" in msg
    assert "Parameter file path is not a file" in msg and "/**" in msg


def test_runtime_parameter_updates_are_checked():
    assert params.check_parameter_update("tf_publish_rate", 5.0) == (True, "")
    ok, reason = params.check_parameter_update("tf_publish_rate", 0.0)
    assert not ok and "tf_publish_rate" in reason
    assert not params.check_parameter_update("matcher", "orb")[0]
    assert params.check_parameter_update("use_sim_time", True)[0]           # not ours




class FakeNode:
    """``declare_parameter`` as rclpy's: a value from the parameter file overrides the default
    unless ``ignore_override``; a value of the wrong type raises unless the descriptor has
    ``dynamic_typing`` (rclpy's InvalidParameterTypeException, skipped for dynamic typing);
    declaring a name twice raises."""

    def __init__(self, overrides):
        self.overrides = overrides
        self.declared = {}

    def declare_parameter(self, name, default, descriptor, ignore_override=False):
        if name in self.declared:
            raise RuntimeError(f"ParameterAlreadyDeclaredException: {name}")
        value = default if ignore_override else self.overrides.get(name, default)
        if type(value) is not type(default) and not getattr(descriptor, "dynamic_typing", False):
            raise TypeError(f"wrong type for {name}")
        self.declared[name] = (value, descriptor)
        return NS(name=name, value=value)

    def undeclare_parameter(self, name):
        del self.declared[name]


def test_declare_parameters_records_bad_start_values_and_declares_the_default():
    node = FakeNode({"tf_publish_rate": "fast", "gates.min_inliers": 50})
    errors = params.declare_parameters(node, lambda d: ("desc", d.name))
    assert list(node.declared) == [s.name for s in param_specs()]
    assert node.declared["gates.min_inliers"][0] == 50
    assert node.declared["tf_publish_rate"] == (20.0, ("desc", "tf_publish_rate"))
    assert set(errors) == {"tf_publish_rate"} and "tf_publish_rate" in errors["tf_publish_rate"]
    values = {name: v for name, (v, _) in node.declared.items()} | {"map_path": "/maps/x"}
    with pytest.raises(ConfigError, match="tf_publish_rate"):
        params.read_config(values.__getitem__, errors)
    # a valid `ros2 param set` clears the start-up error; configure then succeeds
    assert params.check_parameter_updates([NS(name="tf_publish_rate", value=5.0)], errors)[0]
    assert errors == {}
    cfg = params.read_config(values.__getitem__, errors)
    assert cfg.localizer.gates.min_inliers == 50 and cfg.node.map_path == "/maps/x"


def test_parameter_updates_are_all_or_nothing():
    errors = {"matcher": "parameter 'matcher': bad", "tf_publish_rate": "x"}
    ok, reason = params.check_parameter_updates(
        [NS(name="matcher", value="sift"), NS(name="tf_publish_rate", value=0.0)], errors)
    assert not ok and "tf_publish_rate" in reason
    assert set(errors) == {"matcher", "tf_publish_rate"}          # nothing accepted
    assert params.check_parameter_updates([NS(name="use_sim_time", value=True)], errors) == \
        (True, "")


@pytest.mark.parametrize("device,ok", [("auto", True), ("cpu", True), ("cuda", True),
                                       ("cuda:1", True), ("tpu", False), ("cuda:", False),
                                       ("CUDA", False), ("cuda:x", False), ("", False)])
def test_device_is_checked_when_set_and_at_configure(device, ok):
    accepted, reason = params.check_parameter_update("device", device)
    assert accepted is ok
    if not ok:
        assert "device" in reason and "cuda:N" in reason
        with pytest.raises(ConfigError, match="device"):
            params.params_to_config(node_params(device=device))
    else:
        assert params.params_to_config(node_params(device=device)).model.device == device


def test_configure_time_parameters_are_refused_while_configured():
    # unconfigured: everything that is valid may be set (a failed configure is fixed this way)
    assert params.check_parameter_update("map_path", "/maps/other", configured=False)[0]
    assert params.check_parameter_update("device", "cuda", configured=False)[0]
    for name, value in (("map_path", "/maps/other"), ("device", "cuda"), ("matcher", "sift"),
                        ("gates.min_inliers", 50), ("publish_tf", False)):
        ok, reason = params.check_parameter_update(name, value, configured=True)
        assert not ok and name in reason and "configure" in reason
    for name, value in (("tf_publish_rate", 5.0), ("transform_tolerance", 0.2),
                        ("tf_timeout_s", 0.3), ("max_image_age_s", 0.0),
                        ("max_image_pixels", 1_000_000)):
        assert params.check_parameter_update(name, value, configured=True) == (True, "")
    # a live value is still validated
    assert not params.check_parameter_update("tf_publish_rate", 0.0, configured=True)[0]
    assert params.check_parameter_update("use_sim_time", True, configured=True)[0]
    ok, _ = params.check_parameter_updates(
        [NS(name="tf_publish_rate", value=5.0), NS(name="matcher", value="sift")], {},
        configured=True)
    assert not ok                                                   # all or nothing


def test_live_parameters_apply_at_once():
    cfg = params.params_to_config(node_params())
    new = params.apply_live(cfg, [NS(name="tf_publish_rate", value=5),
                                  NS(name="max_image_age_s", value=0.5),
                                  NS(name="use_sim_time", value=True)])
    assert new.node.tf_publish_rate == 5.0 and isinstance(new.node.tf_publish_rate, float)
    assert new.node.max_image_age_s == 0.5 and new.node.map_path == cfg.node.map_path
    assert cfg.node.tf_publish_rate == 20.0                          # the old one is unchanged
    assert params.apply_live(cfg, [NS(name="use_sim_time", value=True)]) is cfg
    for name in params.LIVE_PARAMS:                      # every live one is a node field
        assert hasattr(cfg.node, name)


def test_descriptions_say_when_a_value_applies():
    by_name = {d.name: d for d in params.all_parameter_descriptors()}
    assert "at once" in by_name["tf_publish_rate"].description
    assert "configure" in by_name["device"].description
    assert by_name["max_image_pixels"].lo is not None


@pytest.mark.parametrize("device,ok", [("auto", True), ("cpu", True), ("cuda", True),
                                       ("cuda:0", True), ("cuda:12", True), ("cuda:", False),
                                       ("cuda:x", False), ("cuda:0 ", False), ("cpu0", False),
                                       ("autocpu", False), ("mps", False)])
def test_check_device_matches_the_whole_value(device, ok):
    if ok:
        params.check_device(device)
    else:
        with pytest.raises(ConfigError, match="cuda:N"):
            params.check_device(device, where="launch argument 'device'")


def test_no_parameter_is_declared_read_only():
    """rclpy's read_only holds for the node's whole life; configure-time parameters must stay
    settable while the node is unconfigured (a failed configure is fixed that way)."""
    assert not any(d.read_only for d in params.all_parameter_descriptors())


@pytest.mark.parametrize("frames", [
    {"map_frame": "a", "base_frame": "a", "odom_frame": ""},
    {"map_frame": "a", "base_frame": "a", "odom_frame": "odom"},
    {"map_frame": "map", "base_frame": "b", "odom_frame": "b"},
])
def test_every_pair_of_frames_must_differ(frames):
    with pytest.raises(ConfigError, match="must differ"):
        params.params_to_config(node_params(**frames))


def test_odom_frame_may_be_empty_but_not_absolute():
    assert params.params_to_config(node_params(odom_frame="")).node.odom_frame == ""
    with pytest.raises(ConfigError, match="odom_frame.*must not start with '/'"):
        params.params_to_config(node_params(odom_frame="/odom"))


def test_a_bad_start_value_is_reported_with_its_parameter_name():
    """rclpy's exception text need not name the parameter; the recorded reason does."""
    class Node(FakeNode):
        def declare_parameter(self, name, default, descriptor, ignore_override=False):
            if name == "matcher" and not ignore_override:
                raise ValueError("value out of range")
            return super().declare_parameter(name, default, descriptor, ignore_override)
    errors = params.declare_parameters(Node({}), lambda d: None)
    assert errors == {"matcher": "parameter 'matcher': value out of range"}


def test_apply_live_ignores_configure_time_parameters():
    cfg = params.params_to_config(node_params())
    assert params.apply_live(cfg, [NS(name="matcher", value="sift")]) is cfg
    new = params.apply_live(cfg, [NS(name="matcher", value="sift"),
                                  NS(name="tf_timeout_s", value=0.3)])
    assert new.node.tf_timeout_s == 0.3 and new.localizer == cfg.localizer


def test_overrides_the_node_does_not_declare_are_each_said_with_the_closest_name():
    """rclpy silently keeps a parameter-file key that is never declared (a fresh user's
    concern): the node warns, naming the parameter it probably meant; rclpy's own
    parameters and declared ones are not reported."""
    from mast3r_ros.ros.params import unknown_parameter_warnings

    given = {"max_keyframe": 1, "global_frame_id": 1, "zzz_unrelated": 1, "max_keyframes": 1,
             "use_sim_time": 1, "start_type_description_service": 1,
             "qos_overrides./tf.publisher.depth": 1, "pnp.ransac_iterations_typo": 1}
    tail = "is set (parameter file or -p) but this node has no such parameter, so it has no effect"
    assert unknown_parameter_warnings(given) == [
        f"parameter 'global_frame_id' {tail} (did you mean 'map_frame'?)",
        f"parameter 'max_keyframe' {tail} (did you mean 'max_keyframes'?)",
        f"parameter 'pnp.ransac_iterations_typo' {tail}",
        f"parameter 'zzz_unrelated' {tail}",
    ]
    assert unknown_parameter_warnings([d.name for d in params.all_parameter_descriptors()]) == []


class _RaisingOverrides:
    @property
    def _parameter_overrides(self):
        raise RuntimeError("the handle is invalid")


@pytest.mark.parametrize("node, names", [
    # rclpy humble/jazzy: Node._parameter_overrides = {name: Parameter}
    (NS(_parameter_overrides={"max_keyframe": NS(value=1), "use_sim_time": NS(value=True)}),
     ["max_keyframe", "use_sim_time"]),
    (NS(_parameter_overrides={}), []),
    # a list of Parameters (a shape another rclpy might keep) is read by name
    (NS(_parameter_overrides=[NS(name="max_keyframe", value=1)]), ["max_keyframe"]),
    (NS(_parameter_overrides=(NS(name="max_keyframe", value=1),)), ["max_keyframe"]),
    # what cannot be read says None: the node skips the warning instead of dying in __init__
    (NS(), None),
    (NS(_parameter_overrides=None), None),
    (NS(_parameter_overrides=42), None),
    (NS(_parameter_overrides=[NS(value=1)]), None),
    (NS(_parameter_overrides={("ns", "x"): 1}), None),
    (_RaisingOverrides(), None),
], ids=["dict", "empty", "list", "tuple", "absent", "none", "int", "nameless", "tuple_keys",
        "raises"])
def test_parameter_override_names_reads_rclpys_private_overrides_only_when_it_can(node, names):
    """rclpy has no public accessor for the overrides; the node read the private
    ``_parameter_overrides`` directly, so an rclpy that renamed or reshaped it (None, a list of
    Parameters) crashed the node's constructor, or warned about Parameter objects."""
    assert params.parameter_override_names(node) == names
    # whatever came back feeds the warnings without raising
    params.unknown_parameter_warnings(params.parameter_override_names(node) or ())


def test_bad_start_values_are_said_when_the_node_starts_and_until_set_right():
    """A bad value in the parameter file was said only at configure (with a lifecycle manager
    that configures later, or never: nothing in the log, /diagnostics STALE); each is now one
    error line at start naming the default in force and how to fix it, and the text the
    node's /diagnostics carries while it holds."""
    node = FakeNode({"tf_publish_rate": "fast"})
    errors = params.declare_parameters(node, lambda d: None)
    lines = params.startup_error_lines(errors)
    assert len(lines) == 1 and lines[0].startswith("parameter 'tf_publish_rate': ")
    assert "the default 20.0 is declared instead" in lines[0]
    assert "ros2 param set tf_publish_rate <value>" in lines[0]
    assert params.startup_errors_text(errors) == errors["tf_publish_rate"]
    assert params.check_parameter_updates([NS(name="tf_publish_rate", value=5.0)], errors)[0]
    assert params.startup_errors_text(errors) == "" and params.startup_error_lines(errors) == []


@pytest.mark.parametrize("name,value", [("map_frame", "/map"), ("base_frame", ""),
                                        ("odom_frame", " odom"), ("base_frame", "/base_link"),
                                        ("map_frame", "   ")])
def test_a_frame_name_configure_would_refuse_is_refused_when_set(name, value):
    # `ros2 param set /mast3r_localizer map_frame /map` (ROS 1's habit) was accepted and only
    # the next configure failed; rclpy's SetParametersResult now says why at once
    ok, reason = params.check_parameter_update(name, value)
    assert not ok and f"'{name}'" in reason and "frame name" in reason
    with pytest.raises(ConfigError, match=name):                 # the same rule as configure
        params.params_to_config(node_params(**{name: value}))


def test_good_frame_names_and_an_empty_odom_frame_are_accepted_when_set():
    for name, value in (("map_frame", "robot1/map"), ("base_frame", "base_footprint"),
                        ("odom_frame", "")):
        assert params.check_parameter_update(name, value) == (True, "")


def test_a_set_that_changes_nothing_is_accepted_while_configured():
    # `ros2 param load` of the node's own `ros2 param dump` into the running node sets every
    # parameter to the value it has: each configure-time one was refused ("Set parameter ...
    # failed"), though nothing would change
    values = node_params()
    dump = [NS(name=name, value=value) for name, value in values.items()]
    assert params.check_parameter_updates(dump, {}, configured=True,
                                          current=values.__getitem__) == (True, "")
    # a changed value is still refused, as is one of another type that compares equal
    for name, value in (("matcher", "sift"), ("max_keyframes", 3), ("prior_radius_m", 3)):
        ok, reason = params.check_parameter_updates([NS(name=name, value=value)], {},
                                                    configured=True,
                                                    current=values.__getitem__)
        assert not ok and name in reason
    # without the current values (or unconfigured) the rules are as before
    assert not params.check_parameter_updates(dump, {}, configured=True)[0]
    assert params.check_parameter_updates(dump, {}, configured=False)[0]


def test_a_set_checked_without_configured_is_one_before_configure():
    """`configured` defaults to False: a configure-time parameter set without it (the node
    not yet configured) is accepted (a default of True refused it; mutation audit 2026-12-08)."""
    errors: dict = {}
    assert params.check_parameter_updates([NS(name="map_frame", value="world")], errors) == \
        (True, "")
    assert not params.check_parameter_updates([NS(name="map_frame", value="world")], errors,
                                              configured=True)[0]


def test_an_integer_for_a_double_parameter_is_taken_as_the_float():
    """``tf_publish_rate: 10`` in a parameter file (or ``-p``) failed rclpy's static type check
    at declare (InvalidParameterTypeException: configure then failed naming it), and
    ``ros2 param set ... tf_publish_rate 10`` was refused ("Wrong parameter type"). Doubles are
    declared with dynamic typing now: an integer is taken as the float; a value of another type
    or out of range is still refused at start-up and the default declared instead."""
    from mast3r_ros.ros.params import all_parameter_descriptors
    kinds = {d.type: d.dynamic_typing for d in all_parameter_descriptors()}
    assert kinds == {"double": True, "integer": False, "bool": False, "string": False}
    node = FakeNode({"tf_publish_rate": 10, "transform_tolerance": 50, "tf_timeout_s": "x",
                     "confirm_jump_deg": True})
    errors = params.declare_parameters(node, lambda d: d)
    assert node.declared["tf_publish_rate"][0] == 10
    assert set(errors) == {"transform_tolerance", "tf_timeout_s", "confirm_jump_deg"}
    assert "must be in [0.0, 10.0], got 50" in errors["transform_tolerance"]
    for name in errors:                                   # the default, declared in its place
        assert node.declared[name][0] == next(
            d.default for d in all_parameter_descriptors() if d.name == name)
    values = {name: v for name, (v, _) in node.declared.items()} | {"map_path": "/maps/x"}
    cfg = params.read_config(values.__getitem__, {})
    assert cfg.node.tf_publish_rate == 10.0 and isinstance(cfg.node.tf_publish_rate, float)
    # ros2 param set: rclpy lets the integer through to the node's check, which takes it
    assert params.check_parameter_update("tf_publish_rate", 10, configured=True) == (True, "")
    live = params.apply_live(cfg, [NS(name="tf_publish_rate", value=5)])
    assert live.node.tf_publish_rate == 5.0 and isinstance(live.node.tf_publish_rate, float)
    ok, reason = params.check_parameter_update("tf_publish_rate", True)
    assert not ok and "tf_publish_rate" in reason


def test_a_double_parameter_is_never_left_unset():
    """rclpy skips its type check for a dynamically typed parameter (node.py
    ``_apply_descriptor``: ``if descriptor.dynamic_typing: descriptor.type = ...``, before the
    "Static parameter cannot be undeclared" branch), so ``ros2 param delete`` (a set to NOT_SET,
    value None) and a null override reach the node. Its check is then all that keeps a double
    declared: rclpy deletes a parameter whose accepted set is NOT_SET, and the next configure's
    ``get_parameter`` would raise ParameterNotDeclaredException."""
    from mast3r_ros.ros.params import all_parameter_descriptors
    doubles = {d.name: d.default for d in all_parameter_descriptors() if d.dynamic_typing}
    assert "tf_publish_rate" in doubles
    for name in doubles:
        for configured in (False, True):
            ok, reason = params.check_parameter_update(name, None, configured)
            assert not ok and f"'{name}'" in reason
    node = FakeNode({name: None for name in doubles})      # 'tf_publish_rate: ~' in a file
    errors = params.declare_parameters(node, lambda d: d)
    assert set(errors) == set(doubles)
    assert {name: node.declared[name][0] for name in doubles} == doubles


def test_an_integer_for_a_double_is_declared_as_the_float():
    """``tf_publish_rate: 10`` in a parameter file was declared as the integer 10: ``ros2 param
    get`` said "Integer value is: 10" and ``ros2 param describe`` "Type: integer" for a double
    parameter. It is declared again as 10.0; the descriptor is the node's."""
    node = FakeNode({"tf_publish_rate": 10, "transform_tolerance": 0.5})
    errors = params.declare_parameters(node, lambda d: d)
    assert errors == {}
    value, desc = node.declared["tf_publish_rate"]
    assert value == 10.0 and type(value) is float and desc.name == "tf_publish_rate"
    assert node.declared["transform_tolerance"][0] == 0.5
    assert all(type(v) is int for n, (v, _) in node.declared.items()
               if n in {d.name for d in params.all_parameter_descriptors() if d.type == "integer"})


def test_a_refused_set_keeps_the_descriptor_type_of_the_value_held():
    """rclpy's ``_apply_descriptor`` writes the tried value's type into a dynamically typed
    parameter's stored descriptor before the node's callback refuses it: ``ros2 param describe``
    then said 'string' for ``tf_publish_rate`` after a refused ``set ... fast``."""
    DOUBLE, STRING, BOOL = 3, 4, 1
    stored = {"tf_publish_rate": NS(type=STRING), "max_keyframes": NS(type=BOOL),
              "use_sim_time": NS(type=STRING)}
    held = {"tf_publish_rate": DOUBLE, "max_keyframes": 2, "use_sim_time": BOOL}
    params.restore_descriptor_types(["tf_publish_rate", "max_keyframes", "use_sim_time"],
                                    stored.__getitem__, held.__getitem__)
    assert stored["tf_publish_rate"].type == DOUBLE
    # statically typed (rclpy refuses another type itself) or not ours: left alone
    assert stored["max_keyframes"].type == BOOL and stored["use_sim_time"].type == STRING

    def broken(name):
        raise RuntimeError("another rclpy")
    params.restore_descriptor_types(["tf_publish_rate"], broken, broken)   # display only


def test_an_integer_set_for_a_double_becomes_the_float_before_rclpy_checks_it():
    updates = [NS(name="tf_publish_rate", value=10), NS(name="confirm_jump_deg", value=True),
               NS(name="max_keyframes", value=8), NS(name="use_sim_time", value=1),
               NS(name="transform_tolerance", value=0.2)]
    out = params.integers_as_doubles(updates, lambda name, value: ("made", name, value))
    assert out[0] == ("made", "tf_publish_rate", 10.0) and type(out[0][2]) is float
    assert out[1:] == updates[1:]        # a bool, an integer parameter, not ours, a float


NAV2_STYLE_FILE = """\
/**:
  ros__parameters:
    use_sim_time: true
    global_frame: map
    robot_base_frame: base_link
    max_keyframe: 3
mast3r_localizer:
  ros__parameters:
    max_keyframes: 2
    tf_publish_rat: 5.0
    gates: {min_inlier: 10}
"""


def test_unknown_keys_of_a_block_for_every_node_are_said_only_when_they_look_like_a_typo(
        tmp_path):
    """A Nav2 parameter file's shared ``/**`` block holds other nodes' parameters: the node
    warned "this node has no such parameter" for each (rclpy does not say which block a key
    came from). The files on the command line are read again: a ``/**``-only key is said only
    when it is a letter away from one of ours, as the offline ``--params`` says it; a key in the
    node's own block, or given with -p, is always said."""
    from mast3r_ros.core.config import every_node_only_names

    path = tmp_path / "nav2_params.yaml"
    path.write_text(NAV2_STYLE_FILE)
    argv = ["localizer_node", "--ros-args", "-r", "__node:=mast3r_localizer", "--params-file",
            str(path), "-p", "zzz:=1", "-p", "mast3r_localizer:global_frame:=odom"]
    shared = every_node_only_names(argv, "/mast3r_localizer")
    # global_frame is also given by -p (for this node): it is not only the shared block's
    assert shared == {"use_sim_time", "robot_base_frame", "max_keyframe"}
    given = ["use_sim_time", "global_frame", "robot_base_frame", "max_keyframe",
             "max_keyframes", "tf_publish_rat", "gates.min_inlier", "zzz"]
    lines = params.unknown_parameter_warnings(given, shared)
    assert [line.split("'")[1] for line in lines] == [
        "gates.min_inlier", "global_frame", "max_keyframe", "tf_publish_rat", "zzz"]
    assert "block for every node (/**)" in lines[2] and "'max_keyframes'" in lines[2]
    assert "block for every node" not in lines[1] + lines[3] + lines[4]
    # without the files' answer every unknown key is said, as before
    assert len(params.unknown_parameter_warnings(given)) == 6


@pytest.mark.parametrize("text, fqn, expected", [
    # a block naming the node in any namespace, or nested namespaces, is the node's own
    ("/**/mast3r_localizer: {ros__parameters: {a: 1}}\n/**: {ros__parameters: {b: 1}}\n",
     "/robot1/mast3r_localizer", {"b"}),
    ("robot1: {mast3r_localizer: {ros__parameters: {a: 1}}}\n/robot1/*: {ros__parameters: "
     "{a: 1, c: {d: 1}}}\n", "/robot1/mast3r_localizer", {"c.d"}),
    # another namespace's blocks do not apply to this node at all
    ("/robot2/**: {ros__parameters: {a: 1}}\n", "/robot1/mast3r_localizer", set()),
])
def test_every_node_only_names_matches_blocks_as_rclpy_does(tmp_path, text, fqn, expected):
    from mast3r_ros.core.config import every_node_only_names

    path = tmp_path / "p.yaml"
    path.write_text(text)
    assert every_node_only_names(["--ros-args", "--params-file", str(path)], fqn) == expected
    # arguments outside --ros-args ... -- are the program's, not ROS's
    assert every_node_only_names(["--params-file", str(path), "--ros-args", "--"], fqn) == set()


def test_every_node_only_names_is_none_for_a_file_it_cannot_read(tmp_path):
    """The node then says every unknown key, as it did before it read the files."""
    from mast3r_ros.core.config import every_node_only_names

    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    for path in (bad, tmp_path / "missing.yaml"):
        argv = ["--ros-args", "--params-file", str(path)]
        assert every_node_only_names(argv, "/mast3r_localizer") is None


def test_a_bad_autostart_at_start_names_the_restart_and_leaves_configure_working():
    """-p autostart:=maybe (or a quoted "true" in a parameter file read without the launch
    file) declares the default false; the start-up line said 'ros2 param set autostart
    <value>', which the node refuses for this read-at-start parameter, and configure failed
    on it, though it does not read autostart: a lifecycle manager could never configure it,
    and /diagnostics said 'configure will fail until they are set right' while active."""
    node = FakeNode({"autostart": "maybe"})
    errors = params.declare_parameters(node, lambda d: None)
    (line,) = params.startup_error_lines(errors)
    assert line.startswith("parameter 'autostart': ") and "ros2 param set" not in line
    assert line.endswith("the default False is in force, read only when the node starts "
                         "(configure does not read it): fix the parameter file, "
                         "-p autostart:=<value> or the launch argument, and start the node "
                         "again")
    assert not params.check_parameter_update("autostart", True, current=False)[0]
    values = {name: v for name, (v, _) in node.declared.items()} | {"map_path": "/maps/x"}
    assert params.read_config(values.__getitem__, errors).node.autostart is False
    # /diagnostics' config_error ('configure will fail until ...') does not name it; its
    # autostart value does
    assert params.startup_errors_text(errors) == ""
    assert params.refused_start_status("off", "autostart", errors) == (
        f"off: {errors['autostart']}; start the node again with it set right")
    assert params.refused_start_status("pending", "autostart", {}) == "pending"


@pytest.mark.parametrize("name", ["map_path", "checkpoint", "retrieval.checkpoint"])
@pytest.mark.parametrize("blank", ["  ", "\t", " \n"])
def test_a_white_space_path_is_refused_like_an_empty_one(name, blank):
    """``ros2 param set /mast3r_localizer map_path "  "`` was accepted (and a start-up value
    too): configure then looked for a map folder named '  '. Refused now, naming it."""
    ok, why = params.check_parameter_update(name, blank)
    assert not ok and f"parameter '{name}' is only white space" in why, why
    values = {s.name: s.default for s in param_specs()}
    values.update({"map_path": "/maps/x", name: blank})
    with pytest.raises(ConfigError, match=f"parameter '{name}' is only white space"):
        params.params_to_config(values)
    assert params.check_parameter_update(name, "")[0]  # '' keeps its meaning (none, default)
