"""Export a trained method from model_dir's latest checkpoint: SavedModel + Hub + TF-Lite + manifest.json.

  python export/export_encoder.py --gin_file=gin/rotation.gin --model_dir=runs/rotation [--export_dir=E] \
      [--tflite_variants=float32,float16,int8]

A thin door onto `tfssl.export` (also `python -m tfssl.export` and `tfssl-export`), see there.
"""

from absl import app

from tfssl import export

if __name__ == "__main__":
    app.run(export.main)
