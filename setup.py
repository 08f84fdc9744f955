"""pip / colcon (ament_python) build of mast3r_ros.

Version floors are loose and nothing is pinned from above: on a ROS machine numpy, scipy, OpenCV
and torch come from the system (rosdep, or NVIDIA's wheels on Jetson) and must never be replaced
by a pip install. OpenCV is an extra for the same reason: ROS installs python3-opencv.
"""

import os
import re
import sys
from glob import glob

from setuptools import find_packages, setup

package_name = "mast3r_ros"


def read_version():
    """`mast3r_ros.__version__`, the one place the version is written, read as text: importing the
    package here would need its dependencies before they are installed."""
    init = os.path.join(os.path.dirname(os.path.abspath(__file__)), package_name, "__init__.py")
    with open(init, encoding="utf-8") as fh:
        return re.search(r'^__version__ = "([^"]+)"$', fh.read(), re.M).group(1)


PIP_REQUIREMENTS = [
    "numpy>=1.21",
    "scipy>=1.7",
    "pyyaml>=5.4",
    "pillow>=8.4",
    # 2.1 or later, NVIDIA's builds included: NGC containers and JetPack wheels are versioned
    # 2.1.0a0+41361538.nv23.06, which `>=2.1` does not contain (PEP 440: 2.1.0a0 < 2.1), so pip
    # replaced them with PyPI's torch. Not `>=2.1.0a0`: a floor naming a pre-release lets pip
    # pick torch pre-releases (nightlies, release candidates) without --pre. No torch 2.0.99
    # exists; the last 2.0 is 2.0.1.
    "torch>2.0.99",
    "matplotlib>=3.5",
    # Ubuntu 22.04 (Humble) has python3-tqdm 4.57.0; the bars use nothing newer
    "tqdm>=4.57",
    # 0.11.6: 0.10.11, 0.11.0 and 0.11.5 failed dozens of the bag tests (a message cut short
    # raised struct.error, not rosbags' own error; 0.10 took a lone .mcap file for
    # metadata.yaml); 0.11.6 to 0.11.9 pass them. The bag reader checks it at import
    # (mast3r_ros/replay/rosbag/requirement.py: one line with the pip command); pip-only, no
    # rosdep key (package.xml)
    "rosbags>=0.11.6",
]
TRITON = 'triton>=3.0; platform_system == "Linux"'
AV = "av>=10.0"
# A colcon build runs in a sourced ROS environment: there rosdep (package.xml) provides the
# dependencies, and the entry-point scripts setuptools writes for `ros2 run` would refuse to start
# (pkg_resources.DistributionNotFound) over a pip-only requirement such as rosbags. colcon runs
# this file as `setup.py ... install --prefix <install> ...` (or, for --symlink-install,
# `develop --prefix <install> --editable ...`: colcon_core/task/python/build.py). pip builds
# through pyproject.toml's PEP 517 backend (egg_info / dist_info / *_wheel), or, with an old
# setuptools and --no-build-isolation, `develop --no-deps` without --prefix: a `pip install -e .`
# in a shell where ROS is sourced still gets every requirement.
_ARGS = set(sys.argv[1:])
ROS_BUILD = ("AMENT_PREFIX_PATH" in os.environ and bool({"install", "develop"} & _ARGS)
             and "--prefix" in _ARGS)

setup(
    name=package_name,
    version=read_version(),
    packages=find_packages(exclude=["test", "test.*", "bench", "bench.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    python_requires=">=3.10",
    install_requires=["setuptools"] + ([] if ROS_BUILD else PIP_REQUIREMENTS),
    extras_require={
        # Not for ROS machines: they use the system python3-opencv.
        "opencv": ["opencv-python-headless>=4.5.4"],
        "poselib": ["poselib>=2.0"],
        "hf": ["safetensors>=0.3"],
        # Large maps (issue 11): approximate retrieval index; map building on a Ray cluster.
        "faiss": ["faiss-cpu>=1.7.3"],
        "ray": ["ray>=2.9"],
        # One BLAS thread around the live path's small numpy products (retrieval's exact
        # search, PnP refinement and covariance, SIFT descriptor products; core/blas_threads.py):
        # numpy's OpenBLAS worker threads spin on a loaded CPU, 15.6 ms instead of 0.06 ms a
        # retrieval query at 2 000 keyframes. Optional: without it the products run on BLAS's
        # own thread count, SIFT's in row blocks below OpenBLAS's threading threshold (one
        # INFO line says so). 3.1 is Ubuntu 22.04's python3-threadpoolctl.
        "threadpoolctl": ["threadpoolctl>=3.1"],
        # `mast3r-ros export` (torch's ONNX exporter needs onnx + onnxscript); onnxruntime runs
        # the exported graphs on CPU in the tests. TensorRT comes from JetPack / NVIDIA's wheels.
        "onnx": ["onnx>=1.15", "onnxscript>=0.1", "onnxruntime>=1.16"],
        # Fused nearest-neighbour kernel of the matching walk on CUDA (`matching.nn_backend`);
        # CUDA builds of torch usually bring it, Jetson wheels usually not (torch path then).
        # Triton publishes Linux wheels only: elsewhere the extra installs nothing (without the
        # marker pip failed on it) and the matching walk uses the torch search.
        "triton": [TRITON],
        # Compressed video topics of a bag (Foxglove's CompressedVideo, ffmpeg_image_transport's
        # FFMPEGPacket) decoded as the colour images: PyAV's wheels bundle FFmpeg's decoders
        # (h264, hevc, vp9, av1), which neither OpenCV's reading of single images nor rosbags
        # offer packet by packet. Optional: only bags of video need it (apt: python3-av on
        # Ubuntu 24.04, 11.0; 22.04's is 8.1, below the floor). 10.0 is the oldest the video
        # tests pass with (9.x builds on FFmpeg 4 only; PyPI keeps no wheels of it).
        # av 18 is a Python >= 3.11 wheel (Requires-Python); pip picks av 17 on 3.10.
        "video": [AV],
        # `colcon test` runs pytest for a package naming it here (colcon-core reads the 'test'
        # extra; tests_require, read before, is gone from setuptools 72, which warned
        # "Unknown distribution option: 'tests_require'" three times a `pip install -e .`)
        # Humble's python3-pytest is 6.2.5 (the compat leg runs the suite on it): a floor above
        # it would let `pip install .[test]` replace the system's pytest
        "test": ["pytest>=6.2"],
        # Every optional path is tested in CI, so dev takes every extra (triton's kernels run
        # through its CPU interpreter there).
        "dev": ["opencv-python-headless>=4.5.4", TRITON, "poselib>=2.0", "safetensors>=0.3",
                "faiss-cpu>=1.7.3", "ray>=2.9", AV, "threadpoolctl>=3.1",
                "onnx>=1.15", "onnxscript>=0.1", "onnxruntime>=1.16", "pytest>=7.3",
                # the test command runs the suite in 2 processes (-n 2): 7 min instead of 11
                # on a 2-core CI machine
                "pytest-xdist>=3.0",
                # a test that hangs (a deadlock, a thread never joined) fails after
                # [tool.pytest.ini_options] timeout with its stack, instead of CI running out
                "pytest-timeout>=2.1", "ruff>=0.4"],
    },
    zip_safe=True,
    maintainer="mast3r_ros maintainers",
    maintainer_email="maintainers@mast3r-ros.dev",
    description="Metric 6-DoF camera localization against a keyframe map with MASt3R (ROS 2).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "mast3r-ros = mast3r_ros.replay.cli:console_main",
            "localizer_node = mast3r_ros.ros.node_main:main",
        ],
    },
)
