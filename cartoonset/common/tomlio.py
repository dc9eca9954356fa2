"""TOML reading on every supported Python (tomllib from 3.11, tomli before)."""
try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10
    import tomli as _toml

loads = _toml.loads
TOMLDecodeError = _toml.TOMLDecodeError


def dumps(obj) -> str:
    """A mapping as TOML text (tomli-w)."""
    import tomli_w

    return tomli_w.dumps(obj)
