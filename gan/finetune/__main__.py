"""`python -m gan.finetune`: the headless fine-tuning CLI (`gan.finetune.cli`)."""

from gan.finetune.cli import exit_process, main

exit_process(main())
