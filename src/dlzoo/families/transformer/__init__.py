"""Transformers: attention from first principles, an encoder classifier, seq2seq and a GPT."""
