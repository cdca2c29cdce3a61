"""blockbench: what MobileNet blocks buy over plain convolution blocks on class-imbalanced data."""

__version__ = "0.1.0"
