"""What the command line's usage errors add to argparse's words (`cli_options.Parser`): the
other command's option named for what this command takes instead."""

from __future__ import annotations

# (command, option of the other command of the pair): what this command takes instead
OTHER_COMMANDS_OPTIONS = {
    ("localize", "--trajectory"): ("build-map's, for the keyframe poses: localize reads the "
                                   "ground truth its metrics need from --groundtruth FILE"),
    ("build-map", "--groundtruth"): ("localize's, for its metrics: build-map reads the keyframe "
                                     "poses from --trajectory FILE"),
    ("localize", "--stereo-depth"): ("build-map's, for keyframe depth: localize needs no depth "
                                     "of its frames (the 3-D points come from the map)"),
    ("build-map", "--stride"): ("localize's: build-map picks keyframes by distance and rotation "
                                "(map_build.* in --params); --max-frames N reads the first N "
                                "frames"),
}
