"""mast3r_ros: metric 6-DoF camera localization against a keyframe map with MASt3R."""

__version__ = "0.1.0"
