"""Export TF-Lite variants of a trained encoder (with the SavedModel and Hub exports they are checked against).

  python export/export_tflite.py --gin_file=gin/rotation.gin --model_dir=runs/rotation \
      --tflite_variants=float32,float16,int8

float16 halves the file; int8 calibrates on real training images. Each variant's max abs difference to the live
encoder is recorded in manifest.json.
"""

from absl import app

from tfssl import export_cli

if __name__ == "__main__":
    app.run(export_cli.main)
