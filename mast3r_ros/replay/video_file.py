"""What to say of a video file given as SOURCE (no rclpy): recordings are folders or bags, and
video is read only as a bag's video topic (foxglove_msgs CompressedVideo, ffmpeg_image_transport
FFMPEGPacket: each packet's stamp is the frame's time); a bare ``.mp4`` was refused as "none of
the recordings SOURCE takes: it is a file", without the way to read it."""

from __future__ import annotations

import os

# containers and elementary streams FFmpeg writes that users record cameras into
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mpg", ".mpeg",
                  ".h264", ".264", ".h265", ".265", ".hevc", ".ivf")


def video_file_note(path: str) -> str:
    """'it is a video file ...' (how to turn it into a SOURCE) for a file named as a video
    container or stream (`VIDEO_SUFFIXES`, any case), '' for any other path."""
    name = os.path.basename(path)
    if not name.lower().endswith(VIDEO_SUFFIXES):
        return ""
    return (f"it is a video file, which SOURCE does not read (video only as a bag's video "
            "topic, foxglove CompressedVideo or ffmpeg_image_transport FFMPEGPacket, whose "
            "stamps time the frames): write its frames into a TUM folder (mkdir rgb; ffmpeg "
            f"-i {name} rgb/%06d.png; an rgb.txt of 'TIME rgb/000001.png' lines, the frames' "
            "times in seconds; the camera's camera.yaml) and pass that folder")
