"""Packaging for tfssl. `pip install -e .[test]` gives everything the test suite needs."""

import pathlib
import re

from setuptools import find_packages, setup

_HERE = pathlib.Path(__file__).parent
_VERSION = re.search(r'__version__ = "([^"]+)"', (_HERE / "tfssl" / "__init__.py").read_text()).group(1)

# tensorflow-addons (end of life, TF < 2.16) and tf-models-official (pins Keras 2) are deliberately absent:
# Keras 3 and TF core provide everything tfssl needs (see DESIGN.md).
_INSTALL_REQUIRES = [
    "tensorflow>=2.21,<2.22",
    "keras>=3.10,<4",
    "tensorflow-datasets>=4.9.9",
    "importlib_resources",  # tensorflow-datasets 4.9.10 imports it but does not declare it
    "absl-py>=2.1",
    "gin-config>=0.5",
    "tensorboard>=2.21,<2.22",
    "numpy>=1.26",
    "pillow>=10",  # tfssl.deocclude reads and writes users' PNG images and masks
    "scikit-learn>=1.3",  # tfssl_moving_digits moves the 8x8 digits bundled inside it (no download)
    "scipy>=1.10",  # reads the .mat labels of Simplified Human3.6M and Penn Action (already a scikit-learn dependency)
]
_HUB = ["tensorflow-hub>=0.16", "tf-keras>=2.21,<2.22"]
_PLOTS = ["matplotlib>=3.8"]  # the utility study's figures (python -m tfssl.evaluate --gin_file=gin/utility.gin)
_TEST = _HUB + [
    "pytest>=8",
    "pytest-timeout",
    "ai-edge-litert",
    "nbclient>=0.10",
    "nbformat>=5.10",
    "ipykernel>=6",
    "matplotlib>=3.8",  # the notebooks' figures
]

setup(
    name="tfssl",
    version=_VERSION,
    description="Self-supervised vision methods of CVPR 2020 in TensorFlow / Keras 3",
    long_description=(_HERE / "README.md").read_text() if (_HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["tfssl", "tfssl.*"]),
    install_requires=_INSTALL_REQUIRES,
    extras_require={"hub": _HUB, "plots": _PLOTS, "test": _TEST},
    entry_points={
        "console_scripts": [
            "tfssl-train=tfssl.train:console_main",
            "tfssl-evaluate=tfssl.evaluate:console_main",
            "tfssl-export=tfssl.export:console_main",
            "tfssl-detect-keypoints=tfssl.detect_keypoints:console_main",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
