"""Weight files: safetensors is the canonical format; Lightning/torch checkpoints load with weights_only=True."""

from pathlib import Path

import torch
from safetensors.torch import load_file, save
from torch import nn

from cvops.errors import ModelLoadError
from cvops.io_utils import atomic_write_bytes

StateDict = dict[str, torch.Tensor]


def save_weights_file(state_dict: StateDict, path: Path) -> None:
    """Write a state dict as safetensors, atomically. Same tensors give the same bytes."""
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}
    atomic_write_bytes(Path(path), save(tensors))


def load_weights_file(path: Path, network: nn.Module) -> StateDict:
    """Read weights for `network` from safetensors, or from a `.ckpt`/`.pt` via torch.load(weights_only=True).

    Lightning checkpoints' `network.` prefix is stripped. Raises ModelLoadError if names or shapes differ.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        state_dict = load_file(path)
    else:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        state_dict = loaded.get("state_dict", loaded)
        state_dict = {name.removeprefix("network."): tensor for name, tensor in state_dict.items()}
    expected = {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
    found = {name: tuple(tensor.shape) for name, tensor in state_dict.items()}
    if expected != found:
        differing = sorted(set(expected.items()) ^ set(found.items()))[:6]
        raise ModelLoadError(
            f"Weights {path} do not fit the network (first differing names/shapes: {differing}): load them with "
            "the architecture they were trained with (width, depth, embedding_dim, classes)."
        )
    return state_dict
