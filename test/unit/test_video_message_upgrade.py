"""image_transport foxglove (or ffmpeg) with the message package installed but too old to hold
the message: a reviewer's find. foxglove_msgs releases before CompressedVideo import fine and
lack the class (AttributeError); the node said 'sudo apt install ros-$ROS_DISTRO-foxglove-msgs',
which apt answers 'already the newest version' or leaves as it is. Now a package that imports
without the message is told to upgrade, naming the message it lacks; one that does not import
is still told to install. Stand-in modules in sys.modules, no ROS needed."""

from __future__ import annotations

import sys
import types

import pytest

from mast3r_ros.core.errors import ConfigError
from mast3r_ros.ros.video_input import VIDEO_TRANSPORTS, video_message_type


@pytest.mark.parametrize("transport", sorted(VIDEO_TRANSPORTS))
def test_a_package_without_the_message_is_told_to_upgrade(monkeypatch, transport):
    package, name, type_name, _, apt = VIDEO_TRANSPORTS[transport]
    msg = types.ModuleType(f"{package}.msg")
    msg.OtherMessage = object  # an old release: imports, without the video message
    monkeypatch.setitem(sys.modules, package, types.ModuleType(package))
    monkeypatch.setitem(sys.modules, f"{package}.msg", msg)
    with pytest.raises(ConfigError) as err:
        video_message_type(transport)
    text = str(err.value)
    assert "\n" not in text, text
    assert f"sudo apt upgrade {apt}" in text and "apt install" not in text, text
    assert f"has no {name}" in text and type_name in text, text
    assert text.startswith(f"parameter 'image_transport' is {transport!r}"), text


@pytest.mark.parametrize("transport", sorted(VIDEO_TRANSPORTS))
def test_a_package_that_does_not_import_is_told_to_install(monkeypatch, transport):
    package, _, _, _, apt = VIDEO_TRANSPORTS[transport]
    monkeypatch.setitem(sys.modules, f"{package}.msg", None)  # import raises ImportError
    with pytest.raises(ConfigError) as err:
        video_message_type(transport)
    text = str(err.value)
    assert f"sudo apt install {apt} " in text and "upgrade" not in text, text
