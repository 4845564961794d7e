"""Over-parameterised SVM and logistic regression on LIBSVM data: Figures 2 and 5."""
