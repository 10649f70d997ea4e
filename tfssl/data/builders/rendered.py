"""What tfssl's rendered builders say while they prepare: one line before, one line after.

TFDS announces a preparation with "Downloading and preparing dataset Unknown size (download: Unknown size, ...)",
which is meaningless for data that is rendered, not downloaded. `Rendered` replaces that line and TFDS's "downloaded
and prepared" line with tfssl's own: what is rendered, how many examples, that it happens once, roughly how long,
and where it is kept. In a terminal TFDS's per-split progress bars still run in between (the CLIs turn them off
when stdout is not a terminal, so a log file gets the two lines only).
"""

from __future__ import annotations

import time


def _about(seconds: float) -> str:
    if seconds < 20:
        return "a few seconds"
    if seconds < 90:
        return "about a minute"
    return f"about {round(seconds / 60)} minutes"


class Rendered:
    """Mixin for a `tfds.core.GeneratorBasedBuilder` whose config has `split_sizes` and whose examples are rendered.

    Overrides TFDS's `_log_download_bytes` / `_log_download_done` (the two prints of `download_and_prepare`).
    """

    UNIT = "images"
    # Render + encode time per example on a 2-core CPU: about 4 ms idle, 15 ms when the cores are shared.
    SECONDS_PER_EXAMPLE = 0.008

    def _full_config_name(self) -> str:
        return f"{self.name}/{self.builder_config.name}"

    def _log_download_bytes(self) -> None:
        total = sum(self.builder_config.split_sizes.values())
        self._render_started = time.monotonic()
        print(f"tfssl: rendering {self._full_config_name()} ({total:,} {self.UNIT}, once; "
              f"{_about(3 + total * self.SECONDS_PER_EXAMPLE)})", flush=True)

    def _log_download_done(self) -> None:
        seconds = time.monotonic() - getattr(self, "_render_started", time.monotonic())
        print(f"tfssl: rendered {self._full_config_name()} in {seconds:.0f} s; kept in {self.data_dir}", flush=True)
