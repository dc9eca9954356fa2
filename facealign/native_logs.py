"""Keep mediapipe's and TFLite's C++ chatter off the terminal without hiding real errors.

mediapipe 0.10.21 logs through absl/glog straight to file descriptor 2 ("Created TensorFlow Lite
XNNPACK delegate", "Feedback manager requires a model with a single signature", ...); neither
``GLOG_minloglevel`` nor ``TF_CPP_MIN_LOG_LEVEL`` silences it (absl is initialised inside the
extension). So stderr is redirected at the descriptor level around model creation and inference,
and afterwards every captured line that is not known chatter (INFO/WARNING lines of the native
loggers) is written back: errors (``E``/``F`` lines) and anything else reach the terminal as before.
The one thing this cannot pass on is the last line of a native crash that kills the process inside
a block; ``--verbose`` (no redirection) shows it.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from typing import Iterator

#: lines of the native loggers that are information, not errors
_CHATTER = re.compile(r"^(?:[IW]\d{4} |INFO: |WARNING: All log messages before absl::InitializeLog\(\))")
_LOCK = threading.RLock()  # fd 2 is process-wide: one redirection at a time
_depth = 0


def is_chatter(line: str) -> bool:
    """Whether a stderr line is native INFO/WARNING logging (what :func:`quiet_native_logs` drops)."""
    return bool(_CHATTER.match(line))


@contextlib.contextmanager
def quiet_native_logs(enabled: bool = True) -> Iterator[None]:
    """Inside this block, native INFO/WARNING lines written to stderr are dropped; everything else
    written there (errors, Python's own output) is passed on when the block ends. Nested blocks and
    threads share one redirection. ``enabled=False`` (``--verbose``) leaves stderr alone."""
    global _depth
    if not enabled:
        yield
        return
    with _LOCK:
        if _depth:
            _depth += 1
            try:
                yield
            finally:
                _depth -= 1
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2 (embedded interpreters)
            yield
            return
        capture = tempfile.TemporaryFile()
        _depth = 1
        try:
            os.dup2(capture.fileno(), 2)
            yield
        finally:
            _depth = 0
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            _replay(capture)


def _replay(capture) -> None:
    capture.seek(0)
    data = capture.read()
    capture.close()
    if not data:
        return
    kept = [line for line in data.decode("utf-8", "replace").splitlines(keepends=True) if not is_chatter(line)]
    if kept:
        text = "".join(kept)
        os.write(2, text.encode("utf-8") if text.endswith("\n") else (text + "\n").encode("utf-8"))
