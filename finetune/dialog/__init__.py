"""The dialog model: base conversion, format, training data, training and evaluation."""
