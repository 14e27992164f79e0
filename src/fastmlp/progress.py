"""What an epoch's training steps measure as they pass, and the progress bar showing it.

Keras-style running figures: the mean loss and the accuracy of the training batches'
forward passes (each measured before its step's update, so they trail the parameters at
the epoch's end), the samples trained and their rate. None of it costs a pass over the
training set.
"""
from __future__ import annotations

import math
import time

import numpy as np
from tqdm.auto import tqdm


class EpochMeter:
    """Running loss, batch accuracy and samples/s of one epoch, and its progress bar.

    n samples in batches of batch_size; a batch with fewer than min_batch rows is not
    trained (its loss and count are ignored). `show` draws a tqdm bar counting samples.
    """

    def __init__(self, n, batch_size, min_batch, show, desc):
        self.n, self.batch_size, self.min_batch = n, batch_size, min_batch
        self.loss_sum, self.correct, self.samples = 0.0, 0, 0
        self.counted = True  # whether the correct counts came (not for regression)
        self.non_finite = None
        self.bar = (tqdm(total=n, desc=desc, leave=False, unit="sample", unit_scale=True)
                    if show else None)
        self.start = time.perf_counter()
        self.seconds = None

    def add(self, first_step, losses, correct):
        """Steps first_step, first_step + 1, ... ran with these losses and correct counts
        (None: not counted, as for regression; the batch accuracy is then NaN); returns
        whether the last of them trained. A trained step's non-finite loss stops the count
        there and is kept in `non_finite` as (step, loss)."""
        trained = False
        if correct is None:
            self.counted = False
            correct = np.zeros(losses.shape, np.int64)
        for j, (loss, right) in enumerate(zip(losses.tolist(), correct.tolist()), first_step):
            k = min(self.batch_size, self.n - j * self.batch_size)
            trained = k >= self.min_batch
            if trained:  # a skipped step's slot holds no loss of this call
                if not math.isfinite(loss):
                    self.non_finite = (j, loss)
                    return trained
                self.loss_sum += loss * k
                self.correct += right
                self.samples += k
        return trained

    @property
    def loss(self):
        return self.loss_sum / self.samples if self.samples else float("nan")

    @property
    def accuracy(self):
        return self.correct / self.samples if self.samples and self.counted else float("nan")

    def elapsed(self):
        return self.seconds if self.seconds is not None else time.perf_counter() - self.start

    @property
    def samples_per_second(self):
        seconds = self.elapsed()
        return self.samples / seconds if seconds > 0 else float("nan")

    def show(self, steps_done):
        """Moves the bar to the end of step steps_done - 1, with the running figures."""
        if self.bar is None:
            return
        figures = {"loss": f"{self.loss:.4f}"}
        if self.counted:
            figures["acc"] = f"{self.accuracy:.4f}"
        self.bar.set_postfix(**figures, refresh=False)
        self.bar.update(min(steps_done * self.batch_size, self.n) - self.bar.n)

    def close(self):
        """Stops the clock (the epoch's training seconds) and removes the bar."""
        self.seconds = time.perf_counter() - self.start
        if self.bar is not None:
            self.bar.close()
        return self.seconds
