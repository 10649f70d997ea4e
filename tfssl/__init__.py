"""tfssl: self-supervised vision methods of CVPR 2020 as a TensorFlow/Keras 3 model zoo."""

__version__ = "0.1.0"
