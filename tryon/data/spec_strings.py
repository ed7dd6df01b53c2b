"""Data named on a command line as ``name:key=value,key=value`` (``digits:split=train``, ``gaussians25:n=5000``)."""

from __future__ import annotations

from tryon.errors import InputError


def parse_data_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"Name:k=v,k2=v2"`` → ``("name", {"k": "v", "k2": "v2"})`` (the name lower-cased, blanks stripped); a part
    without ``=`` raises :class:`InputError` naming it.

    >>> parse_data_spec("digits:split=train, seed=3")
    ('digits', {'split': 'train', 'seed': '3'})
    """
    name, _, rest = str(spec).partition(":")
    opts: dict[str, str] = {}
    for part in filter(None, rest.split(",")):
        k, eq, v = part.partition("=")
        if not eq:
            raise InputError(f"data spec {spec!r}", "name:key=value,key=value", repr(part))
        opts[k.strip()] = v.strip()
    return name.strip().lower(), opts


__all__ = ["parse_data_spec"]
