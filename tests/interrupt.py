"""A callback that kills its own training process mid-epoch, for the resume tests.

Loaded by the CLI under test through ``+callbacks.interrupt._target_=interrupt.InterruptAt``
(the tests put this folder on PYTHONPATH); it is not part of nlpclf.
"""

import os
import signal

from lightning.pytorch.callbacks import Callback


class InterruptAt(Callback):
    def __init__(self, step: int, signal_name: str = "SIGKILL") -> None:
        self.step = step
        self.signum = getattr(signal, signal_name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)
