"""`StereoSequence`: the constructor the EuRoC/ASL (`euroc.EurocSequence`) and KITTI
(`kitti.KittiSequence`) readers share, so that `sources.open_source` opens both with the same
keywords and defaults and the state `TumSequence`'s methods read is set alike in both."""

from __future__ import annotations

from typing import Callable, Optional

from ..core.config import PoseAtStampConfig
from ..core.image_codec import BayerWatch
from ..core.trajectory import check_pose_rule
from ..core.types import CameraIntrinsics
from .stereo_depth import StereoFrames
from .tum import TumSequence
from .tum_trajectory import PathLike


class StereoSequence(StereoFrames, TumSequence):
    """A recording without depth images whose depth may come from its second camera
    (``stereo_depth``), read without `TumSequence`'s rgb.txt: a subclass reads its own folder
    in `_read` (see its docstring for the arguments and the errors it raises).

    ``sync_tolerance_s`` (seconds >= 0) and ``pose_at_stamp`` (None: the defaults) are checked
    first (`check_pose_rule`: `InputError` naming the bad one); ``read_depth`` False reads no
    depth (no stereo match either); ``poses_option`` is the option a reason without poses
    names as the fix (localize: ``--groundtruth``)."""

    def __init__(
        self,
        path: PathLike,
        camera_info: Optional[CameraIntrinsics] = None,
        sync_tolerance_s: float = 0.02,
        pose_at_stamp: Optional[PoseAtStampConfig] = None,
        read_depth: bool = True,
        camera_info_name: Optional[str] = None,
        before_index: Optional[Callable[[], None]] = None,
        poses_option: str = "--trajectory FILE",
        stereo_depth: bool = False,
    ) -> None:  # the state `TumSequence`'s methods read, set here without its rgb.txt
        rule = check_pose_rule(sync_tolerance_s, pose_at_stamp)
        self.read_depth = bool(read_depth)
        self.depth_units_per_m = 1.0  # no depth images: unused (stereo depth sets None: metres)
        self._sync_tolerance_s = sync_tolerance_s
        self._gt_unit_error: Optional[str] = None
        self._said_exif = False
        self._bayer = BayerWatch()  # its grey images judged for a Bayer mosaic, once this read
        self._poses_option = poses_option
        self._read(path, camera_info, rule, camera_info_name, before_index, stereo_depth)

    def _read(self, path: PathLike, camera_info: Optional[CameraIntrinsics],
              rule: PoseAtStampConfig, camera_info_name: Optional[str],
              before_index: Optional[Callable[[], None]], stereo_depth: bool) -> None:
        """Read the folder at ``path``: set ``folder``, ``intrinsics``, the frames' stamps,
        image and depth paths and poses (a subclass's own)."""
        raise NotImplementedError


__all__ = ["StereoSequence"]
