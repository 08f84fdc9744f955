"""ROS-free core: network, matching, geometry, maps and the localizer. Never imports rclpy."""
