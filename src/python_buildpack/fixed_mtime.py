"""The one mtime of the files the buildpack unpacks itself (`wheel_install`).

1980-01-01T00:00:01Z is the lifecycle's own (what it gives every file of a layer it exports), so
a layer's files read the same before and after an export. The lifecycle's restorer gives the files
it restores from the cache the time of the restore instead, which makes every timestamp `.pyc`
of a restored layer stale: the `pip` layer is cached as one zip file whose bytecode is
hash-based (`layers.pip_zip`) for this reason.
"""

from __future__ import annotations

FIXED_MTIME = 315532801
