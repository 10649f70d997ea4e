"""`cocoa`: COCO Amodal (Zhu et al., "Semantic Amodal Segmentation", CVPR 2017), read from manual_dir.

PCNet's COCOA experiments (Zhan et al., CVPR 2020) use its 2500 train / 1323 val images. Put in manual_dir:
  annotations/COCO_amodal_train2014.json, annotations/COCO_amodal_val2014.json,
  train2014/ and val2014/ (the COCO 2014 images those files name).
Format (one annotation per image): {"image_id", "regions": [{"segmentation": amodal polygon [x1, y1, ...],
"visible_mask": RLE (absent when the region is fully visible), "order", ...}], "depth_constraint": "1-2,3-1"}
where "i-j" (1-based regions) says region i is in front of region j. There are no object categories (the
reference code uses 1 for all). Masks are decoded by tfssl itself (`coco_masks`), no pycocotools.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders import amodal_scenes, coco_masks

SPLITS = {  # split -> (annotation file, image folder)
    "train": ("annotations/COCO_amodal_train2014.json", "train2014"),
    "validation": ("annotations/COCO_amodal_val2014.json", "val2014"),
}


def parse_depth_constraint(text: str, num_regions: int) -> np.ndarray:
    """"1-2,3-1" -> int64 [N, N] order matrix (O[i, j] = 1: region i+1 in front of region j+1)."""
    order = np.zeros((num_regions, num_regions), np.int64)
    for pair in filter(None, (p.strip() for p in (text or "").split(","))):
        front, back = (int(v) - 1 for v in pair.split("-"))
        order[front, back], order[back, front] = 1, -1
    return order


def parse_annotation(annotation: dict, height: int, width: int) -> dict:
    """One COCOA image annotation -> numpy modal, amodal uint8 [N, H, W], category int64 [N], order [N, N]."""
    regions = annotation["regions"]
    amodal = [coco_masks.decode_mask(r["segmentation"], height, width) for r in regions]
    # Visible = amodal where no "visible_mask" is given; clipped to the amodal polygon, which a rasterised
    # visible mask can overstep by a pixel (modal ⊆ amodal is what every consumer assumes).
    modal = [coco_masks.decode_mask(r["visible_mask"], height, width) & a if "visible_mask" in r else a
             for r, a in zip(regions, amodal)]
    shape = (0, height, width)
    return {
        "modal": np.stack(modal) if modal else np.zeros(shape, np.uint8),
        "amodal": np.stack(amodal) if amodal else np.zeros(shape, np.uint8),
        "category": np.ones(len(regions), np.int64),
        "order": parse_depth_constraint(annotation.get("depth_constraint", ""), len(regions)),
    }


class Cocoa(tfds.core.GeneratorBasedBuilder):
    """COCO Amodal scenes with modal/amodal masks and annotated pairwise depth order (module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download COCO Amodal's annotations (COCO_amodal_train2014.json, COCO_amodal_val2014.json) into "
        "manual_dir/annotations/ and the COCO 2014 train and val images into manual_dir/train2014/ and "
        "manual_dir/val2014/.")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(description=__doc__, features=amodal_scenes.features(True),
                                              homepage="https://github.com/Wakeupbuddy/amodalAPI")

    def _split_generators(self, dl_manager):
        required = [path for pair in SPLITS.values() for path in pair]
        root = amodal_scenes.manual_root(dl_manager, "cocoa", required)
        return {split: self._generate_examples(os.path.join(root, annotations), os.path.join(root, images))
                for split, (annotations, images) in SPLITS.items()}

    def _generate_examples(self, annotation_file: str, image_dir: str):
        with open(annotation_file) as f:
            data = json.load(f)
        images = {image["id"]: image for image in data["images"]}
        for index, annotation in enumerate(data["annotations"]):
            image = images[annotation["image_id"]]
            scene = parse_annotation(annotation, int(image["height"]), int(image["width"]))
            yield index, amodal_scenes.scene_example(
                os.path.join(image_dir, image["file_name"]), image["id"], index, **scene)
