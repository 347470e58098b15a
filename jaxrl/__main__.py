"""`python -m jaxrl ...`: the `jaxrl` command, where the console script is not installed."""

import sys

from jaxrl.cli import main

sys.exit(main())
