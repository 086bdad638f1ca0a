"""dlzoo: every core family of deep learning, trained, evaluated, exported and served the same way."""

__version__ = "0.1.0"
