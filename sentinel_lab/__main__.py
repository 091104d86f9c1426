"""``python -m sentinel_lab``: the ``sentinel-lab`` command, for hosts that cannot find the script on their PATH."""

from sentinel_lab._cli import main

raise SystemExit(main())
