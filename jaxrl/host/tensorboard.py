"""TensorBoard scalars, written synchronously in the calling thread.

tensorboardX's `SummaryWriter` writes from a background thread: when the disk fills up, that thread dies and
the main thread blocks forever on its queue. This writer uses tensorboardX's event-file format (`EventsWriter`)
without the thread, so a write error is an `OSError` where the write happens. Non-finite values are written as
they are (TensorBoard shows them), without a warning per value: a run reports a diverged seed once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class Scalars:
    """`Scalars(log_dir).add(tag, value, step)`, `flush()`, `close()`; also a context manager."""

    def __init__(self, log_dir: Path):
        from tensorboardX.event_file_writer import EventsWriter
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self._writer = EventsWriter(str(Path(log_dir) / "events"), filename_suffix=f".{os.getpid()}")

    def add(self, tag: str, value: float, step: int) -> None:
        from tensorboardX.proto import event_pb2, summary_pb2
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=float(value))])
        self._writer.write_event(event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in `log_dir`'s event files -> `{tag: [(step, value), ...]}` (file order)."""
    import struct

    from tensorboardX.proto import event_pb2
    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i + 12 <= len(data):
            (length,) = struct.unpack("Q", data[i:i + 8])
            event = event_pb2.Event.FromString(data[i + 12:i + 12 + length])
            i += 12 + length + 4
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, v.simple_value))
    return out
