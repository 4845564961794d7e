"""Toy loss (xᵀy − 1)²/2: Figures 1 and 4 of the paper."""
