"""What the node says about its subscription's images themselves (no rclpy): mono8 images that
are a raw Bayer mosaic (`core.image_codec.bayer_watch`), in the log and on /diagnostics (WARN
for its window, value ``last_image_warning``). A mixin of `processing.FrameProcessing`, which
provides ``_lock``, ``_diag`` and ``_now`` (its clock) and calls `_watch_images` at each
activation.

Judged per activation: a reactivation (deactivate and activate, or cleanup, configure and
activate) is how a robot is often switched to another camera or topic, or restarted once its
driver was fixed. Each activation starts a new watch, so its images are judged from their
first again: a new topic is judged as any, and a topic found a mosaic in an earlier activation
is said again, once, in the log and WARN on /diagnostics (whose notes of the activation before
are values only from its start: `DiagnosticsWindow.start`). Before, a watch kept over
activations never judged such a topic again: the log said nothing, the status stayed OK and
only the old ``last_image_warning`` value told. The cost is that of a new stream: at most
`bayer_watch.FIRST_TRIES` more judgements (0.3 ms each at 640x480) an activation.
"""

from __future__ import annotations

from mast3r_ros.core.image_codec import BayerWatch
from mast3r_ros.ros.diagnostics import WARN


class ImageWatch:
    """The node's image watch: ``_bayer`` (a `BayerWatch` whose warnings reach /diagnostics),
    new at each activation."""

    def _watch_images(self) -> None:
        """A new watch (``_bayer``), judging the subscription's images from their first: at
        ``_init_frame_path`` and at each activation (`FrameProcessing._set_active`)."""
        self._bayer = BayerWatch(on_warning=self._image_warning)

    def _image_warning(self, text: str) -> None:
        """For the image watch: what the log says about the images themselves (mono8 that is a
        raw Bayer mosaic) is WARN on /diagnostics for its window, value ``last_image_warning``."""
        with self._lock:
            # the host's clock (`processing`'s ``_now``), as every other note and frame record:
            # a host faking it (tests, the soak bench) had this WARN window on another clock
            self._diag.note(self._now(), "image_warning", WARN, text)
