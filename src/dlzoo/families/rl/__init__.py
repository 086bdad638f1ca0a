"""Reinforcement learning: value-based and policy-gradient agents on gymnasium environments."""
