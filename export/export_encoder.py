"""Re-export a trained encoder from model_dir's latest checkpoint: SavedModel + Hub + TF-Lite + manifest.json.

  python export/export_encoder.py --gin_file=gin/rotation.gin --model_dir=runs/rotation [--export_dir=E]

Use it after training with exports off, or to export an older checkpoint's config into a new folder.
"""

from absl import app

from tfssl import export_cli

if __name__ == "__main__":
    app.run(export_cli.main)
