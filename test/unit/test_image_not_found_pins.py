"""Pin of `core.image_codec.files.image_not_found` that the mutation audit 2026-12-06i found
untested: a missing file whose name has no glob character is not called a shell glob."""

from __future__ import annotations

from mast3r_ros.core.image_codec.files import image_not_found


def test_a_missing_plain_file_is_not_called_a_glob(tmp_path):
    """'image not found: X' alone; with '*', '?' or '[' in the name, the glob's words (`c in
    basename` -> `not in` gave every missing file the glob's words)."""
    plain = str(tmp_path / "rgb" / "0001.png")
    assert image_not_found(plain) == f"image not found: {plain}"
    for name in ("*.png", "00?1.png", "[01].png"):
        said = image_not_found(str(tmp_path / name))
        assert said.startswith(f"image not found: {tmp_path / name} (a shell glob"), said
