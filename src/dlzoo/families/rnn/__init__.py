"""Recurrent networks: Elman RNN, LSTM and GRU cells written out, with parity against torch.nn."""
