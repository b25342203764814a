"""Training and evaluation of every model shopmind uses."""
