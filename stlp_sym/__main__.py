"""``python -m stlp_sym``: the ``stlp`` command."""

from .cli import main

raise SystemExit(main())
