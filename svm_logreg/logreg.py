"""Logistic regression on random features (the paper's logreg.py flags).

    python svm_logreg/logreg.py --algo zo --lr 0.01 --lam 0.1 --data a5a-resplit
"""

from flatzero import cli
from svm_logreg.train import main

if __name__ == "__main__":
    cli.run(lambda: main("logreg"))
