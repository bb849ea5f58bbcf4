"""Every cap of the converters, in one place (docs/convert.md lists them with the reasons).

The caps bound what a hostile file can make the converter do: how much memory and time the
reading takes, and what may reach the written folder. Official NVIDIA and rosinality weights sit
well inside every one of them (the largest official tensor is D's 1024 px `b4.fc.weight`, 4.2 M
elements; a 1024 px snapshot with G, D, G_ema and the augment pipe holds about 90 M).
"""

from __future__ import annotations

# --- the pickle reader ---------------------------------------------------------------------------
MAX_MEMO = 1_000_000  # memo entries, and the largest memo index (the pickler numbers them 0..n)
MAX_MARK_DEPTH = 1_000  # open MARKs (nested batched containers)
MAX_LINE = 1 << 16  # one text-protocol line (protocol 0/1 opcodes)
MAX_LONG_BYTES = 64  # a LONG1/LONG4 integer (the storage records' magic number takes 10)
MAX_DIMS = 8  # dimensions of one tensor or array
MAX_TENSOR_ELEMENTS = 1 << 24  # one tensor (16.7 M; a 1024-channel D's b4.fc.weight)
MAX_ARRAY_ELEMENTS = 1 << 16  # one numpy array (NVIDIA's networks keep none; kept as numbers)
MAX_TOTAL_ELEMENTS = 1 << 28  # all tensor views of one file together (268 M)
MAX_NETWORK_DEPTH = 12  # sub-network nesting (NVIDIA's deepest is 5)
MAX_NETWORK_TENSORS = 10_000  # tensors of one network (NVIDIA's 1024 px G has about 330)
MAX_NAME = 128  # a class, parameter or module name

# --- the configs ---------------------------------------------------------------------------------
MIN_RESOLUTION, MAX_RESOLUTION = 4, 2048  # a power of two
MAX_CHANNELS = 1024  # any feature count: z_dim, w_dim, channels at a resolution, cmap_dim ...
MAX_CHANNEL_BASE = 1 << 22
MAX_IMG_CHANNELS = 4
MAX_CLASSES = 1024  # c_dim
MAPPING_LAYERS = (1, 16)  # NVIDIA's configs use 2 or 8
D_MAPPING_LAYERS = (0, 16)
MAX_FP16_RES = 16
MAX_MBSTD = (64, 16)  # mbstd_group_size, mbstd_num_channels
MAX_FILTER_TAPS = 8  # resample_filter length (NVIDIA's is [1, 3, 3, 1])
MAX_ABS_FLOAT = 1e6  # conv_clamp, the lr multiplier, filter taps

# --- the sandbox ---------------------------------------------------------------------------------
MAX_INPUT_BYTES = 1 << 30  # the source file (NVIDIA's 1024 px FFHQ snapshot is 364 MB)
MAX_OUTPUT_BYTES = 1 << 30  # the written folder
MEMORY_BYTES = 4 << 30  # RLIMIT_AS of the conversion process
WALL_SECONDS = 300  # wall-clock limit of one conversion
