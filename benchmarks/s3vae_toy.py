"""A quick disentanglement check of S3VAE / DSVAE that needs no dataset and no trained judge (minutes on a CPU).

    python benchmarks/s3vae_toy.py --steps=700                       # S3VAE
    python benchmarks/s3vae_toy.py --steps=700 --dsvae               # DSVAE: the same with the regularisers off

Toy clips, 32 px, T = 8: an 8x8 square in one of 6 colours (the content) starts anywhere in the middle and moves
1 px per frame in one of 4 directions (the motion); start and direction are independent. The judge is an oracle
computed from the pixels: colour = nearest palette colour of the square, direction = sign of the centroid's
displacement from the first to the last frame (it scores 1.0 on real clips). The metrics are
`tfssl.evaluation.disentanglement.disentanglement_scores` on 256 held-out clips. A sanity check of the method and
the evaluation, not a result of the paper: the issue's numbers come from gin/s3vae.gin on tfssl_sprites.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZE, FRAMES = 32, 8
PALETTE = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)
DIRECTIONS = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])  # (dy, dx) per frame: right, left, down, up


def toy_clips(n: int, seed: int) -> tuple[np.ndarray, dict]:
    """float32 [n, T, 32, 32, 3] in [0, 1] and {"action": direction [n], "body": colour [n]}."""
    rs = np.random.RandomState(seed)
    colour, direction = rs.randint(0, len(PALETTE), n), rs.randint(0, len(DIRECTIONS), n)
    videos = np.zeros((n, FRAMES, SIZE, SIZE, 3), np.float32)
    for i in range(n):
        y0, x0 = rs.randint(8, 17, size=2)  # 7 px of travel stay inside the frame
        dy, dx = DIRECTIONS[direction[i]]
        for t in range(FRAMES):
            y, x = y0 + dy * t, x0 + dx * t
            videos[i, t, y:y + 8, x:x + 8] = PALETTE[colour[i]]
    return videos, {"action": direction, "body": colour}


class OracleJudge:
    """Reads colour and direction from the pixels (the judge interface of tfssl.evaluation.sequence_judge)."""

    def predict(self, videos):
        v = np.asarray(videos)
        mass = v.sum(-1)
        weights = mass / np.maximum(mass.sum((2, 3), keepdims=True), 1e-6)
        yy, xx = np.mgrid[:SIZE, :SIZE]
        cy, cx = (weights * yy).sum((2, 3)), (weights * xx).sum((2, 3))
        dy, dx = cy[:, -1] - cy[:, 0], cx[:, -1] - cx[:, 0]
        action = np.where(np.abs(dx) >= np.abs(dy), np.where(dx > 0, 0, 1), np.where(dy > 0, 2, 3))
        on = mass > 0.5
        mean = (v * on[..., None]).sum((1, 2, 3)) / np.maximum(on.sum((1, 2, 3))[:, None], 1)
        colour = np.argmin(((mean[:, None] - PALETTE[None]) ** 2).sum(-1), -1)
        return {"action": np.eye(len(DIRECTIONS))[action], "body": np.eye(len(PALETTE))[colour]}

    def accuracy(self, videos, labels):
        probs = self.predict(videos)
        return {k: float(np.mean(np.argmax(p, -1) == labels[k])) for k, p in probs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dsvae", action="store_true", help="the three regularisers' weights at 0")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()

    import importlib

    import gin
    import tensorflow as tf

    importlib.import_module("tfssl.registry")  # registers the gin configurables bound below
    from tfssl.evaluation.disentanglement import disentanglement_scores
    from tfssl.methods.s3vae import S3VAE

    gin.parse_config([f"tfssl.make_optimizer.total_steps = {args.steps}", "model/tfssl.make_optimizer.name = 'adam'",
                      "model/tfssl.make_optimizer.learning_rate = 0.002",
                      "model/tfssl.make_optimizer.schedule = 'constant'",
                      "tfssl.layers.dcgan_frame_encoder.widths = (16, 32, 64)",
                      "tfssl.layers.dcgan_frame_decoder.widths = (64, 32, 16)"])
    off = dict(triplet_weight=0.0, motion_weight=0.0, direction_weight=0.0, mi_weight=0.0) if args.dsvae else {}
    tf.keras.utils.set_random_seed(args.seed)
    method = S3VAE(image_size=SIZE, frames=FRAMES, static_dim=16, dynamic_dim=4, feature_dim=64, hidden_dim=64, **off)
    train, _ = toy_clips(2048, 1)
    step = tf.function(method.train_step)
    begun = time.time()
    for s in range(args.steps):
        rows = np.arange(s * args.batch, (s + 1) * args.batch) % len(train)
        outputs = step({"video": train[rows], "index": rows.astype(np.int64)})
    seconds = time.time() - begun
    test, labels = toy_clips(256, 2)
    metrics, _ = disentanglement_scores(method, OracleJudge(), test, labels, action_key="action",
                                        static_keys=("body",), generation_scores={}, seed=args.seed)
    record = {"method": "dsvae" if args.dsvae else "s3vae", "steps": args.steps, "batch": args.batch,
              "seed": args.seed, "train_seconds": round(seconds, 1),
              "last_step": {k: float(v) for k, v in outputs.items()}, **metrics,
              "command": "python " + " ".join(sys.argv)}
    text = json.dumps(record, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
