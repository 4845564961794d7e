"""Prompt fine-tuning of RoBERTa with ZO and GD, tracking the Hessian trace: Figures 3 and 6."""
