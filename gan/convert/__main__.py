"""`python -m gan.convert`."""

import sys

from gan.convert.cli import main

sys.exit(main())
