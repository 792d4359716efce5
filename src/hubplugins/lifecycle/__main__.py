"""``python -m hubplugins.lifecycle``: see :mod:`hubplugins.lifecycle.cli`."""

import sys

from hubplugins.lifecycle.cli import main

sys.exit(main())
