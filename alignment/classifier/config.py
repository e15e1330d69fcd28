"""Every field of a classifier job config (family ``classifier``, DESIGN.md section 4).

The job trains one hidden layer with bias on binary labels by full-batch GD (one step = one
epoch), snapshots every ``snapshot_every`` steps, and records the class geometry of the hidden
layer and the misclassified set; afterwards it finds the inversion, the stragglers and (with
``removal``) retrains every run from its own init without its stragglers and without as many
random points. Tuples are swept; a field that is not defined here is an error. Configs in
sweeps/configs/{inversion,straggler}_*.py and cls_tiny.py start from this one.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "cls_base"  # label written into the outputs
    c.family = "classifier"  # selects this job (sweeps.run dispatches on it)
    # --- data (alignment/classifier/data.py) ---
    c.source = "digits"  # digits (scikit-learn, label = digit mod 2) | file (npz) | sign
    c.data_file = ""  # file: an npz with x, y and optionally x_test, y_test
    c.n_train = 1000  # training points: the first n_train rows of the subset's permutation
    c.subsets = 1  # training blocks drawn by permutation seeds 1..subsets (file order if 0)
    c.sign_d = 20  # sign: input dimension of the linear teacher task
    c.sign_points = 2000  # sign: points drawn (training block and test set)
    c.sign_flip = 0.1  # sign: probability that a label is flipped (label noise)
    c.sign_seed = 0  # sign: seed of the teacher, the inputs and the flips
    c.noise_std = 1.0  # std of the Gaussian noise added to the (standardized) test inputs
    c.noise_seed = 0  # seed of that noise
    # --- network (alignment/classifier/family.py) ---
    c.m = 20  # hidden width
    c.activation = "tanh"  # tanh (the paper) | relu (this suite)
    c.head = "softmax"  # softmax (2 logits, cross-entropy) | square | logistic (on +-1 labels)
    c.init = "torch"  # torch: PyTorch's default x scale | balanced | unbalanced | dominated
    c.scale = (1.0,)  # torch: its multiplier (1: the paper); a suite scheme: lambda
    # --- training: full-batch optax, t = lr * steps ---
    c.optimizer = ("gd",)  # gd | momentum | adam (one program each)
    c.momentum = 0.9  # for optimizer momentum
    c.lr = (0.1,)  # learning rates (each its own chunks)
    c.steps = 500  # GD steps (epochs) per run
    c.snapshot_every = 1  # steps between snapshots (the paper's rule compares steps: keep 1)
    c.num_seeds = 10  # inits per (optimizer, lr, scale, subset)
    c.seed_offset = 0  # seeds are seed_offset, seed_offset + 1, ...
    # --- removal: retrain each run without its stragglers / without as many random points ---
    c.removal = False
    c.removal_rule = "paper"  # which inversion gives the stragglers S(t_inv): paper | robust
    c.removal_seed = 0  # seed of the random removals
    # --- post hoc rules (alignment/classifier/claims.py); results-neutral ---
    c.burn_in = 20  # both inversion rules look at steps >= burn_in
    c.smooth_window = 5  # robust rule: moving-average window (snapshots)
    c.rise_tol = 1e-3  # robust rule: "no inversion" when the rise is below this share
    c.overlap_points = 24  # log-spaced snapshots at which seed pairs' S(t) are compared
    c.align_drop = 0.05  # end of early alignment: first step with loss <= (1 - this) loss(0)
    c.overlap_min_set = 5  # a seed pair's z counts where both misclassified sets have >= this
    # --- numerics and layout ---
    c.dtype = "float32"  # float32 | float64
    c.max_lanes = 256  # base runs per chunk (one vmapped program call; removal runs follow)
    c.snapshots_per_call = 100  # per compiled call (0: all); a checkpoint follows every call
    c.make_figures = True  # draw the figures at the end
    return c
