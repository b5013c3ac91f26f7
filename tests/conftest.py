"""Suite-wide settings: tiny tensors run fastest, and most predictably, on one torch thread."""

import torch

torch.set_num_threads(1)
