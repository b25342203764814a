"""Gradio operator console and the embeddable customer widget."""
