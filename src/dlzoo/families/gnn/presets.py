"""Registered GNN entrypoints and their presets (presets are data: partial run configs).

Canonical presets reproduce the papers' settings: ``cora`` (Planetoid public split, 200 epochs,
``DLZOO_DATA`` must hold ``planetoid/ind.cora.*``) and ``mutag`` (fold ``data.fold`` of 10).
"""

from __future__ import annotations

from dlzoo.families.gnn.model import GAT, GCN, GIN, GraphSAGE
from dlzoo.families.gnn.objective import GraphClassification, LinkPrediction, NodeClassification
from dlzoo.families.gnn.pipeline import GraphPipeline, LinkPipeline, NodePipeline
from dlzoo.registry import register_model

KARATE = {"name": "karate"}
CORA = {"name": "cora"}
TINY_TRAIN = {
    "epochs": 60,
    "lr": 0.01,
    "weight_decay": 5e-4,
    "log_every": 10,
    "checkpoint_every": 20,
}
# Kipf & Welling (2017), Sec. 5.2 / PyG examples/gcn.py: Adam lr 0.01, weight decay 5e-4, 200 epochs
KIPF_TRAIN = {"epochs": 200, "lr": 0.01, "weight_decay": 5e-4, "log_every": 10, "checkpoint_every": 50}


@register_model(
    family="gnn",
    task="classify",
    paradigm="graph",
    objective=NodeClassification,
    pipeline=NodePipeline,
    presets={
        # seconds on CPU: karate club, 8 labelled members; test accuracy > 0.8
        "tiny": {"model": {"hidden": [16], "dropout": 0.2}, "data": KARATE, "train": TINY_TRAIN},
        "default": {"model": {"hidden": [16], "dropout": 0.5}, "data": CORA, "train": KIPF_TRAIN},
        # the paper's Cora setting (16 hidden units, dropout 0.5, row-normalized features)
        "cora": {"model": {"hidden": [16], "dropout": 0.5}, "data": CORA, "train": KIPF_TRAIN},
    },
)
def gcn(*, in_features: int, out_features: int, hidden: tuple[int, ...] = (16,), dropout: float = 0.5) -> GCN:
    """GCN node classifier (Kipf & Welling 2017): symmetric-normalized graph convolutions, ReLU."""
    return GCN(in_features=in_features, out_features=out_features, hidden=hidden, dropout=dropout)


# Veličković et al. (2018), Sec. 3.3 / PyG examples/gat.py: 8 heads x 8 features, dropout 0.6, Adam lr 0.005,
# weight decay 5e-4; ``cora`` trains 200 epochs as the issue measured PyG, ``velickovic2018`` early-stops as the paper
GAT_CORA = {
    "model": {"hidden": 8, "heads": 8, "out_heads": 1, "dropout": 0.6},
    "data": CORA,
    "train": {"epochs": 200, "lr": 0.005, "weight_decay": 5e-4, "log_every": 10, "checkpoint_every": 50},
}

# Veličković et al. (2018), their code (execute_cora.py): up to 100000 epochs, patience 100 on val loss and
# accuracy; the patience restarts when the val loss is <= its minimum OR the val accuracy >= its maximum,
# and the model tested is the last epoch where loss <= its minimum AND accuracy >= its maximum. On Cora it
# stops after a few hundred epochs; 3000 is a cap that a run on Cora does not reach.
GAT_SELECT = {"monitor": ["val/nll", "val/accuracy"], "mode": ["min", "max"], "ties_improve": True}
GAT_PAPER = {
    **GAT_CORA,
    # the authors' attn_head drops the projected features W h too (PyG's GATConv does not)
    "model": {**GAT_CORA["model"], "value_dropout": 0.6},
    "train": {
        **GAT_CORA["train"],
        "epochs": 3000,
        "checkpoint_every": 100,
        "early_stop": {**GAT_SELECT, "patience": 100},
        "keep_best": GAT_SELECT,
    },
}


@register_model(
    family="gnn",
    task="classify",
    paradigm="graph",
    objective=NodeClassification,
    pipeline=NodePipeline,
    presets={
        "tiny": {"model": {"hidden": 4, "heads": 2, "dropout": 0.1}, "data": KARATE, "train": TINY_TRAIN},
        "default": GAT_CORA,
        "cora": GAT_CORA,
        # the same training, tested with the weights of the best val/accuracy epoch
        "cora_best": {
            **GAT_CORA,
            "train": {**GAT_CORA["train"], "keep_best": {"monitor": "val/accuracy", "mode": "max"}},
        },
        # the paper's protocol: early stopping and model selection on val loss and accuracy (see GAT_PAPER)
        "velickovic2018": GAT_PAPER,
    },
)
def gat(
    *,
    in_features: int,
    out_features: int,
    hidden: int = 8,
    heads: int = 8,
    out_heads: int = 1,
    dropout: float = 0.6,
    value_dropout: float = 0.0,
) -> GAT:
    """GAT node classifier (Veličković et al. 2018): multi-head masked attention over neighbours, ELU."""
    return GAT(
        in_features=in_features,
        out_features=out_features,
        hidden=hidden,
        heads=heads,
        out_heads=out_heads,
        dropout=dropout,
        value_dropout=value_dropout,
    )


SAGE_CORA = {
    "model": {"hidden": [64], "aggregator": "mean", "dropout": 0.5},
    "data": CORA,
    "train": {"epochs": 200, "lr": 0.01, "weight_decay": 5e-4, "log_every": 10, "checkpoint_every": 50},
}


@register_model(
    family="gnn",
    task="classify",
    paradigm="graph",
    objective=NodeClassification,
    pipeline=NodePipeline,
    presets={
        # neighbour-sampled mini-batches even here, so the contract tests cover the sampler
        "tiny": {
            "model": {"hidden": [16], "dropout": 0.2},
            "data": KARATE,
            "task": {"fanouts": [5, 5]},
            "train": {**TINY_TRAIN, "epochs": 30, "batch_size": 4},
        },
        "default": SAGE_CORA,
        "cora": SAGE_CORA,
        "cora_max": {**SAGE_CORA, "model": {**SAGE_CORA["model"], "aggregator": "max"}},
        # Hamilton et al. (2017): sampled 2-hop neighbourhoods (25 then 10 neighbours), mini-batches of 32 nodes
        "cora_sampled": {
            **SAGE_CORA,
            "task": {"fanouts": [25, 10]},
            "train": {**SAGE_CORA["train"], "epochs": 50, "batch_size": 32},
        },
    },
)
def graphsage(
    *,
    in_features: int,
    out_features: int,
    hidden: tuple[int, ...] = (64,),
    aggregator: str = "mean",
    dropout: float = 0.5,
    normalize: bool = False,
) -> GraphSAGE:
    """GraphSAGE node classifier (Hamilton et al. 2017): self + mean/max-pooled neighbours, full or sampled."""
    return GraphSAGE(
        in_features=in_features,
        out_features=out_features,
        hidden=hidden,
        aggregator=aggregator,
        dropout=dropout,
        normalize=normalize,
    )


# Xu et al. (2019), Sec. 7: 5 layers (4 GIN + input), 2-layer MLPs, 64 hidden units (the paper tunes 16/32),
# batch 32 (tunes 32/128), dropout 0.5 (tunes 0/0.5), Adam lr 0.01 halved every 50 epochs, 350 epochs, GIN-0
GIN_MUTAG = {
    "model": {"hidden": 64, "num_layers": 5, "mlp_layers": 2, "dropout": 0.5},
    "data": {"name": "mutag"},
    "train": {
        "epochs": 350,
        "batch_size": 32,
        "lr": 0.01,
        "scheduler": "step",
        "step_every": 50,
        "step_gamma": 0.5,
        "log_every": 20,
        "checkpoint_every": 50,
    },
}

# the honest default for a new TU set: 10% of the training fold is val; training stops when the val loss has
# not improved for 50 epochs and the weights of its minimum are tested (the paper's 350 fixed epochs
# overfit a set they were not tuned on, and its model selection looks at the test folds)
GIN_VAL = {
    **GIN_MUTAG,
    "data": {"name": "tudataset", "dataset": "MUTAG", "val_fraction": 0.1},
    "train": {
        **GIN_MUTAG["train"],
        "early_stop": {"monitor": "val/nll", "mode": "min", "patience": 50},
        "keep_best": {"monitor": "val/nll", "mode": "min"},
    },
}


@register_model(
    family="gnn",
    task="classify",
    paradigm="graph",
    objective=GraphClassification,
    pipeline=GraphPipeline,
    presets={
        # seconds on CPU: cycles vs stars vs paths from networkx; test accuracy > 0.9
        "tiny": {
            "model": {"hidden": 16, "num_layers": 3, "dropout": 0.0},
            "data": {"name": "graph_shapes"},
            "train": {"epochs": 15, "batch_size": 16, "lr": 0.01, "log_every": 10},
        },
        "default": GIN_VAL,
        "mutag": GIN_MUTAG,
    },
)
def gin(
    *,
    in_features: int,
    out_features: int,
    hidden: int = 64,
    num_layers: int = 5,
    mlp_layers: int = 2,
    dropout: float = 0.5,
    train_eps: bool = False,
) -> GIN:
    """GIN graph classifier (Xu et al. 2019): sum-aggregating MLP layers, sum readout from every depth."""
    return GIN(
        in_features=in_features,
        out_features=out_features,
        hidden=hidden,
        num_layers=num_layers,
        mlp_layers=mlp_layers,
        dropout=dropout,
        train_eps=train_eps,
    )


@register_model(
    family="gnn",
    task="classify",
    paradigm="graph",
    objective=LinkPrediction,
    pipeline=LinkPipeline,
    presets={
        "tiny": {
            "model": {"hidden": [16], "out_features": 8, "dropout": 0.0},
            "data": KARATE,
            "task": {"val_fraction": 0.1, "test_fraction": 0.2},
            "train": {"epochs": 60, "lr": 0.01, "log_every": 10},
        },
        # graph auto-encoder setting (Kipf & Welling 2016): 32-16 GCN encoder, Adam lr 0.01, 200 epochs
        "default": {
            "model": {"hidden": [32], "out_features": 16, "dropout": 0.0},
            "data": CORA,
            "train": {"epochs": 200, "lr": 0.01, "log_every": 10, "checkpoint_every": 50},
        },
    },
)
def gcn_link(*, in_features: int, out_features: int = 16, hidden: tuple[int, ...] = (32,), dropout: float = 0.0) -> GCN:
    """GCN link predictor: GCN node embeddings, edge probability σ(z_uᵀ z_v) (graph auto-encoder decoder).

    Args:
        in_features: F, input features per node; filled from the data when unset.
        out_features: dimension of the node embeddings z scored by σ(z_uᵀ z_v) (not taken from the data).
        hidden: widths of the hidden GCN layers of the encoder, input to embedding (Kipf & Welling 2016: (32,)).
        dropout: drop probability on the input of every GCN layer.
    """
    return GCN(in_features=in_features, out_features=out_features, hidden=hidden, dropout=dropout)
