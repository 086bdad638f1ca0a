"""Architecture and hyperparameter search on Optuna: studies whose trials train registered models.

Above the families (it trains through ``dlzoo.training``); the search spaces and strategies it runs
are the ``nas`` family's (``dlzoo.families.nas``)."""
