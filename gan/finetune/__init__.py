"""Fine-tuning a generator on a few images (the Fine-tune tab and `python -m gan.finetune`).

- `recipes`: each family's fine-tune (`Recipe`: defaults, build, step, save), by key;
  `specs`: each recipe's one defaults table (NVIDIA's `cfg_specs` shape);
- `config`: `FinetuneConfig` (validated once, `checked`), the host's caps, `FinetuneJob`;
- `data`: safe upload preparation; `augment`: DiffAugment; `kid`: KID on a feature network
  passed in;
- `trainer`: the two-phase step, Freeze-D, EMA; `checkpoint`: save/resume through the store;
- `loop`: `run_finetune`, a generator of `core.events.Progress`;
- `service`: `FineTuner`, what the UI calls; `cli`: the command line.

StyleGAN2 training goes beside these (e.g. `sg2_*.py`, `ada.py`).
"""
