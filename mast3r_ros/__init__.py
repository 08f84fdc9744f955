"""mast3r_ros: metric 6-DoF camera localization against a keyframe map with MASt3R."""

# The one place the version is written: setup.py reads this line as text (keep its form), and
# package.xml's <version> must agree (test/unit/test_cli_usability.py checks both).
__version__ = "0.1.0"
