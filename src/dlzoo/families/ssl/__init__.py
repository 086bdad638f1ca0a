"""Self-supervised learning: SimCLR, BYOL, SimSiam, Barlow Twins and VICReg on one encoder interface,
SCARF for tables and contrastive time series; evaluated by linear probes, k-NN and collapse diagnostics."""
