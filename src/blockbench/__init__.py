"""blockbench: what MobileNet blocks buy over plain convolution blocks on class-imbalanced data."""

__version__ = "0.1.0"

N_CLASSES = 10  # every dataset here has ten classes (digits 0-9, or ten clothing / kana classes)
