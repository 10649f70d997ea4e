"""tfssl's numpy procedural renderer: shapes, appearance (textures, colours, lighting, backgrounds), layering.

Every dataset tfssl renders itself is a pure function of (config, split, index) built from these pieces; see
`objects.render_object_example` for the single-object data of Newell & Deng (CVPR 2020) and
`objects.render_object_layer` / `objects.composite` for multi-object scenes.
"""

from tfssl.data.render.appearance import (
    FIXED_LIGHTING,
    PATTERN_KINDS,
    Background,
    Fill,
    Lighting,
    Pattern,
    class_colour,
    fill_rgb,
    pattern_field,
    random_colour,
    render_background,
    sample_lighting,
    sample_pattern,
    shading,
)
from tfssl.data.render.objects import (
    ALL_FACTORS,
    APPEARANCE_POOL,
    NUM_POSES,
    Factors,
    ObjectLayer,
    ObjectSpec,
    composite,
    pool_background,
    pool_fill,
    pose_class,
    render_object_example,
    render_object_layer,
    rotation_range,
    sample_object_spec,
    sample_pool_appearance,
    to_uint8,
)
from tfssl.data.render.shapes import (
    CLASS_NAMES,
    NUM_CLASSES,
    NUM_SHAPE_MODELS,
    Placement,
    ShapeModel,
    coverage,
    model_ids_for_split,
    pixel_grid,
    shape_model,
)
