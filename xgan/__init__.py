"""xgan: the XGAN model and trainer, its baselines and the benchmark."""
from cartoonset._version import __version__

__all__ = ["__version__"]
