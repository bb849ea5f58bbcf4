"""GAN lab: a small DCGAN trained from scratch, to watch the lesson's ideas happen.

- `toy`: a built-in data set of coloured shapes drawn at run time (no files ship);
- `train`: the two-phase loop as a generator of progress events, every D step (or its skip
  by the balance rule) recorded with D(x) and D(G(z));
- `collapse`: a mode-collapse meter for the fixed-seed samples;
- `compare`: two runs side by side that differ in one setting.
"""
