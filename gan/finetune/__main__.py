"""`python -m gan.finetune`: the headless fine-tuning CLI (`gan.finetune.cli`)."""

import sys

from gan.finetune.cli import main

sys.exit(main())
