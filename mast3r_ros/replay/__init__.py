"""ROS-free offline tools: recording readers, evaluation, plots and the `mast3r-ros` CLI."""
