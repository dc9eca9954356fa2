"""facealign: uncropped photos (folders or VGG-Face URL lists) to aligned, background-removed faces."""
from cartoonset._version import __version__

__all__ = ["__version__"]
