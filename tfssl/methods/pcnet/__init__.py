"""PCNet scene de-occlusion (Zhan et al., CVPR 2020) as one package.

  model.py      PCNet-M and PCNet-C and the method that trains them (`PCNet`)
  samples.py    the self-supervised training samples (`pcnet_sample`), synthesised in the input pipeline
  inference.py  ordering, amodal masks, object layers and background from a trained PCNet (`deocclude`)

Its metrics live with the other evaluations (`tfssl.evaluation.deocclusion`), its command line in
`tfssl.deocclude`.
"""

from tfssl.methods.pcnet.model import PCNet
from tfssl.methods.pcnet.samples import pcnet_sample

__all__ = ["PCNet", "pcnet_sample"]
