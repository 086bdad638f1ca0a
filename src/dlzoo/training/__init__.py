"""Training loops on Lightning Fabric: one loop for every paradigm (see tasks/README.md)."""

from dlzoo.training.loop import RunExistsError, train_run

__all__ = ["RunExistsError", "train_run"]
