"""One message-passing operator per file: GCNConv, GATConv, SAGEConv, GINConv."""

from dlzoo.families.gnn.layers.gat import GATConv
from dlzoo.families.gnn.layers.gcn import GCNConv
from dlzoo.families.gnn.layers.gin import GINConv
from dlzoo.families.gnn.layers.sage import SAGEConv

__all__ = ["GATConv", "GCNConv", "GINConv", "SAGEConv"]
