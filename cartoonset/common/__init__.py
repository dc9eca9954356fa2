"""Plumbing shared by the three packages, written once: atomic writes, JSON-lines records and CSV
tables, seeded random streams, progress bars, shards, identity splits, contact sheets, the PNG
encoder, the face template, TOML reading and writing, the toolkit's version, the command lines' error
convention, worker lifecycles, the cache folder (``cachedir``) and the base of every toolkit dataset
(``vision``).

Nothing here knows about cartoons, photos or models; ``cartoonset``, ``facealign`` and ``xgan`` all
import it, and none of them imports another's private modules.
"""
