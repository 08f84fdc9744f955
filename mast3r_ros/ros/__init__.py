"""The only subpackage that imports rclpy and ROS message packages."""
