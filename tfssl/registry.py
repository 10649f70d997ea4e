"""Importing this module registers every gin configurable tfssl offers (methods, layers, data, evaluations)."""

import tfssl.core.distribute  # noqa: F401
import tfssl.core.optimizers  # noqa: F401
import tfssl.core.trainer  # noqa: F401
import tfssl.data.pipelines  # noqa: F401
import tfssl.evaluation.classification  # noqa: F401
import tfssl.layers.resnet9  # noqa: F401
import tfssl.methods.rotation  # noqa: F401
import tfssl.methods.pirl  # noqa: F401
import tfssl.methods.lci  # noqa: F401  (also registers tfssl.layers.alexnet and tfssl.evaluation.layer_probes)
import tfssl.evaluation.deocclusion  # noqa: F401  (also registers tfssl.data.pcnet_dataset)
import tfssl.methods.pcnet  # noqa: F401  (also registers tfssl.layers.unet, partial_conv_unet and patchgan)
