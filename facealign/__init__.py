"""facealign: uncropped photos (folders or VGG-Face URL lists) to aligned, background-removed faces.

The pipeline reads top to bottom: :mod:`~facealign.sources` (read; who is who:
:mod:`~facealign.identities`) -> :mod:`~facealign.decode` ->
:mod:`~facealign.locate` (detect, landmarks) -> :mod:`~facealign.align` -> :mod:`~facealign.segment`
-> :mod:`~facealign.outputs` (write). :func:`align_image` (:mod:`~facealign.photo`) runs it on one
photo, :func:`run` on many; :func:`fetch` downloads VGG-Face lists first.
Heavy pieces (mediapipe, torch) are imported only when used.
"""
from cartoonset.common.version import __version__

__all__ = ["__version__", "align_image", "AlignResult", "run", "RunSummary", "fetch", "FetchOptions",
           "preview_sheet", "contact_sheet", "AlignedFaces", "Settings", "BackendSpec", "SolutionsBackend",
           "TasksBackend", "FaceModels", "Detector", "Face", "quiet_native_logs"]

_WHERE = {
    "align_image": "photo", "AlignResult": "photo",
    "run": "runner", "RunSummary": "runner",
    "fetch": "downloader", "FetchOptions": "downloader",
    "preview_sheet": "preview", "contact_sheet": "preview",
    "AlignedFaces": "dataset",
    "Settings": "settings",
    "BackendSpec": "backend", "SolutionsBackend": "backend", "TasksBackend": "backend",
    "FaceModels": "backend", "Detector": "backend", "Face": "backend",
    "quiet_native_logs": "native_logs",
}

#: public names kept for existing callers -> what they are called now
_FORMER_NAMES = {"contact_sheet": "preview_sheet", "Detector": "FaceModels"}


def __getattr__(name):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'facealign' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), _FORMER_NAMES.get(name, name))
