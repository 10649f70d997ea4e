"""`kins`: KITTI INStance amodal segmentation (Qi et al., "Amodal Instance Segmentation with KINS Dataset",
CVPR 2019), read from manual_dir.

PCNet's KINS experiments (Zhan et al., CVPR 2020) train on its 7474 and test on its 7517 images. Put in
manual_dir: instances_train.json, instances_val.json, training/image_2/ and testing/image_2/ (the KITTI
object-detection images). Format: COCO-style {"images": [{"id", "file_name", "height", "width"}],
"annotations": [{"image_id", "category_id", "inmodal_seg": visible mask (RLE or polygons), "inmodal_bbox":
[x, y, w, h], "segmentation": amodal polygons, ...}], "categories": [...]}. KINS annotates no pairwise order: the
evaluation derives it from the masks as the reference code does (`tfssl.evaluation.deocclusion.order_from_masks`).
Masks are decoded by tfssl itself (`coco_masks`), no pycocotools.
"""

from __future__ import annotations

import collections
import json
import os

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders import amodal_scenes, coco_masks

SPLITS = {  # split -> (annotation file, image folder)
    "train": ("instances_train.json", "training/image_2"),
    "test": ("instances_val.json", "testing/image_2"),
}


def parse_annotations(annotations: list[dict], height: int, width: int) -> dict:
    """The KINS annotations of one image -> numpy modal, amodal uint8 [N, H, W] and category int64 [N]."""
    amodal = [coco_masks.decode_mask(a["segmentation"], height, width) for a in annotations]
    # Clipped to the amodal mask: polygon and RLE rasterisations can disagree by a pixel on the outline.
    modal = [coco_masks.decode_mask(a["inmodal_seg"], height, width) & m for a, m in zip(annotations, amodal)]
    shape = (0, height, width)
    return {
        "modal": np.stack(modal) if modal else np.zeros(shape, np.uint8),
        "amodal": np.stack(amodal) if amodal else np.zeros(shape, np.uint8),
        "category": np.array([int(a["category_id"]) for a in annotations], np.int64),
    }


class Kins(tfds.core.GeneratorBasedBuilder):
    """KINS street scenes with modal and amodal instance masks and categories (module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Download KINS' instances_train.json and instances_val.json into manual_dir, and the KITTI object "
        "images into manual_dir/training/image_2/ and manual_dir/testing/image_2/.")

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=__doc__, features=amodal_scenes.features(False),
            homepage="https://github.com/qqlu/Amodal-Instance-Segmentation-through-KINS-Dataset")

    def _split_generators(self, dl_manager):
        required = [path for pair in SPLITS.values() for path in pair]
        root = amodal_scenes.manual_root(dl_manager, "kins", required)
        return {split: self._generate_examples(os.path.join(root, annotations), os.path.join(root, images))
                for split, (annotations, images) in SPLITS.items()}

    def _generate_examples(self, annotation_file: str, image_dir: str):
        with open(annotation_file) as f:
            data = json.load(f)
        by_image = collections.defaultdict(list)
        for annotation in data["annotations"]:
            by_image[annotation["image_id"]].append(annotation)
        images = sorted(data["images"], key=lambda image: image["id"])
        for index, image in enumerate(images):
            scene = parse_annotations(by_image[image["id"]], int(image["height"]), int(image["width"]))
            yield index, amodal_scenes.scene_example(
                os.path.join(image_dir, image["file_name"]), image["id"], index, **scene)
