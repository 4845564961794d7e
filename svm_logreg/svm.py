"""Squared-hinge SVM on random features (the paper's svm.py flags).

    python svm_logreg/svm.py --algo zo --lr 1e-4 --lam 0.05 --data a5a-resplit
"""

from flatzero import cli
from svm_logreg.train import main

if __name__ == "__main__":
    cli.run(lambda: main("svm"))
