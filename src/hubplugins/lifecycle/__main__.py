"""``python -m hubplugins.lifecycle``: see :mod:`hubplugins.lifecycle.cli`."""

import sys

from .cli import main

sys.exit(main())
