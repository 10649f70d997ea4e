"""The one list of modules whose import registers the gin configurables a gin file may name.

The command-line tools (`tfssl.train`, `tfssl.evaluate`, `tfssl.export`, `tfssl.deocclude`), the benchmarks and the
tests import this module; the library itself never does, so `core/` knows no method and importing one method does
not import the others. A new method, network, input function or evaluation that gin files name is added here.
"""

import importlib

MODULES = (
    # The runtime: experiment root, strategy, trainer, optimizers.
    "tfssl.core.experiment",
    "tfssl.core.distribute",
    "tfssl.core.trainer",
    "tfssl.core.optimizers",
    # Input functions.
    "tfssl.data.pipelines",
    # Networks.
    "tfssl.layers.resnet9",
    "tfssl.layers.alexnet",
    "tfssl.layers.unet",
    "tfssl.layers.partial_conv",
    "tfssl.layers.patchgan",
    "tfssl.layers.dcgan",
    "tfssl.layers.skeleton",
    "tfssl.layers.history_pool",
    "tfssl.layers.perceptual",
    # Methods.
    "tfssl.methods.rotation",
    "tfssl.methods.lci",
    "tfssl.methods.pirl",
    "tfssl.methods.pcnet",
    "tfssl.methods.s3vae",
    "tfssl.methods.keypoints",
    # Evaluations.
    "tfssl.evaluation.classification",
    "tfssl.evaluation.layer_probes",
    "tfssl.evaluation.deocclusion",
    "tfssl.evaluation.sequence_judge",
    "tfssl.evaluation.disentanglement",
    "tfssl.evaluation.keypoints",
    "tfssl.evaluation.utility_study",
)

for _module in MODULES:
    importlib.import_module(_module)
