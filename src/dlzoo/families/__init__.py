"""One folder per family: model.py (nn.Modules), objective.py (losses, algorithm steps), presets.py."""
