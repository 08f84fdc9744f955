"""What kind of recording a folder holds (a TUM RGB-D folder, an EuRoC/ASL dataset, a KITTI
odometry sequence, a rosbag2), for the messages that refuse a recording where a map is
expected and the other way round."""

from __future__ import annotations

import os
from typing import Dict, List, Tuple

# rosbag2 storage files (rosbags reads them without metadata.yaml)
BAG_STORAGE_SUFFIXES = (".mcap", ".db3")


def none_of_the_sources(path: str) -> str:
    """'PATH is none of the recordings SOURCE takes: ...': each kind `replay.sources.open_source`
    reads (a folder of images is none: it needs rgb.txt) and what shows it, for the line that
    refuses ``path`` (the reason follows it)."""
    return (f"{path} is none of the recordings SOURCE takes: a TUM RGB-D folder (rgb.txt and "
            "camera.yaml), an EuRoC/ASL dataset (mav0/cam0/data.csv and data/, sensor.yaml), a "
            "KITTI odometry sequence (image_0/ or image_2/, times.txt and calib.txt), a rosbag2 "
            f"(a folder with metadata.yaml, or a {' / '.join(BAG_STORAGE_SUFFIXES)} file) or a "
            "ROS 1 .bag file")


def recording_kind(folder: str) -> str:
    """What recording ``folder`` looks like -- a TUM RGB-D folder, a rosbag2, an EuRoC/ASL
    dataset (its root, mav0 or a camera folder of data.csv and data/), a KITTI odometry
    sequence (times.txt, calib.txt, image_N/) -- named by the file
    that shows it (for messages: "a TUM RGB-D folder: it has rgb.txt"); '' when neither or
    unreadable."""
    if os.path.isfile(os.path.join(folder, "rgb.txt")):
        return "a TUM RGB-D folder: it has rgb.txt"
    if os.path.isfile(os.path.join(folder, "metadata.yaml")):
        return "a rosbag2: it has metadata.yaml"
    for cam in ("mav0/cam0", "cam0", ""):  # the dataset root, mav0, a camera folder
        csv = os.path.join(cam, "data.csv") if cam else "data.csv"
        if (os.path.isfile(os.path.join(folder, csv))
                and os.path.isdir(os.path.join(folder, cam, "data"))):
            return f"an EuRoC/ASL dataset folder: it has {csv}"
    if (os.path.isfile(os.path.join(folder, "times.txt"))
            and os.path.isfile(os.path.join(folder, "calib.txt"))
            and any(os.path.isdir(os.path.join(folder, f"image_{i}")) for i in range(4))):
        return "a KITTI odometry sequence: it has times.txt and calib.txt"
    try:
        bags = sorted(n for n in os.listdir(folder) if n.lower().endswith(BAG_STORAGE_SUFFIXES))
    except OSError:
        return ""
    return f"a rosbag2: it has {bags[0]}" if bags else ""


# image file suffixes `image_glob_hint` counts (what OpenCV decodes and recordings hold)
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".webp")


def _image_names(folder: str) -> Tuple[str, Dict[str, List[str]]]:
    """(the folder whose image files are named: ``folder``, else its ``rgb/``; its image file
    names, sorted, by suffix as written), ('', {}) when neither holds one or can be read."""
    for sub in ("", "rgb"):
        where = os.path.join(folder, sub) if sub else folder
        try:
            names = sorted(os.listdir(where))
        except OSError:
            continue
        by_suffix: Dict[str, List[str]] = {}
        for name in names:
            suffix = os.path.splitext(name)[1]
            if suffix.lower() in _IMAGE_SUFFIXES:
                by_suffix.setdefault(suffix, []).append(name)
        if by_suffix:
            return where, by_suffix
    return "", {}


def image_glob_hint(folder: str) -> str:
    """The shell glob that names the image files of ``folder`` given where image files go
    (``pair``, ``retrieve``): ``folder/*.jpg`` for the suffix most of its files have (as
    written: ``*.JPG`` too), else those of its ``rgb/`` (a TUM RGB-D folder given itself),
    ``folder/*.png`` when neither holds an image file. Never raises: an unreadable folder
    gives the ``*.png`` glob."""
    where, by_suffix = _image_names(folder)
    if not by_suffix:
        return os.path.join(folder, "*.png")
    best = max(sorted(by_suffix), key=lambda s: len(by_suffix[s]))
    return os.path.join(where, "*" + best)


def image_file_examples(folder: str, count: int = 2) -> List[str]:
    """The first ``count`` image files (paths, name order) of ``folder``, else of its ``rgb/``,
    of the suffix most of them have: what to name where ``count`` image files go (``pair``'s
    two), as `image_glob_hint` finds them; [] when neither holds one. Never raises."""
    where, by_suffix = _image_names(folder)
    if not by_suffix:
        return []
    best = max(sorted(by_suffix), key=lambda s: len(by_suffix[s]))
    return [os.path.join(where, n) for n in by_suffix[best][:count]]
