"""The small convolutional classifier: a plain torch module that returns raw logits."""

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture size: `depth` conv blocks, the first with `width` channels, doubling each block."""

    num_classes: int
    width: int = 16
    depth: int = 3
    embedding_dim: int = 32

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SurfaceClassifier(nn.Module):
    """Conv blocks -> global average pool -> embedding -> logits. Input: float32 NCHW, normalised."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        in_channels = 3
        for index in range(config.depth):
            out_channels = config.width * 2**index
            blocks += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(in_channels, config.embedding_dim), nn.ReLU())
        self.head = nn.Linear(config.embedding_dim, config.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.embedding(self.pool(self.features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
