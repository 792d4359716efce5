"""``python -m hubplugins.cli``: the same as the ``hubplugins`` command."""

import sys

from hubplugins.cli import main

sys.exit(main())
