"""Graph neural networks: GCN, GAT, GraphSAGE, GIN in plain PyTorch (see README.md)."""
