"""Optimizer and learning-rate schedule of a recipe: SGD with momentum or AdamW, decoupled
weight decay, linear warm-up into cosine or step decay (the papers' schedules)."""
import keras
from keras import ops


class _RateOncePerStep:
    """Evaluates the learning-rate schedule once per step for weight decay.

    Keras 3.15 (TensorFlow backend) decays one variable at a time and evaluates the schedule
    for each, so a cosine schedule's ops are traced once per variable (307 times for S3D-G),
    which lengthens the first trace and every step. Here the rate is computed once and every
    variable shares it (docs/benchmarks.md, "Training steps", has what it saves).
    """

    _rate_this_step = None

    def _get_current_learning_rate(self):
        if self._rate_this_step is not None:
            return self._rate_this_step
        return super()._get_current_learning_rate()

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return
        self._rate_this_step = self._get_current_learning_rate()
        try:
            super()._apply_weight_decay(variables)
        finally:
            self._rate_this_step = None


class _AdamScalarsOncePerStep:
    """Computes Adam's per-step scalars once per step and dtype, for all variables.

    Keras 3.15's `Adam.update_step` computes, for every variable, the step's bias corrections
    (two powers of the step count), the step size and its constants again: about half the ops
    of an update. Traced for each of S3D-G's 307 variables, they took about 10 of the 45 s of
    the demo's first step. Here the first variable of a step computes them and the others
    reuse them. Each variable's update is Keras' arithmetic, op for op, so the results are
    bit-identical (tests/test_training.py). With `amsgrad`, Keras' own update runs.
    """

    _step_scalars = None

    def apply(self, grads, trainable_variables=None):
        self._step_scalars = {}
        try:
            return super().apply(grads, trainable_variables)
        finally:
            self._step_scalars = None

    def _scalars(self, learning_rate, dtype):
        if dtype not in self._step_scalars:
            local_step = ops.cast(self.iterations + 1, dtype)
            beta_1_power = ops.power(ops.cast(self.beta_1, dtype), local_step)
            beta_2_power = ops.power(ops.cast(self.beta_2, dtype), local_step)
            lr = ops.cast(learning_rate, dtype)
            alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            self._step_scalars[dtype] = (alpha, ops.cast(1 - self.beta_1, dtype),
                                         ops.cast(1 - self.beta_2, dtype),
                                         ops.cast(self.epsilon, dtype))
        return self._step_scalars[dtype]

    def update_step(self, gradient, variable, learning_rate):
        if self._step_scalars is None or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        alpha, one_minus_beta_1, one_minus_beta_2, epsilon = self._scalars(learning_rate,
                                                                           variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), one_minus_beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), one_minus_beta_2))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), epsilon)))


@keras.saving.register_keras_serializable(package="keras_video")
class SGD(_RateOncePerStep, keras.optimizers.SGD):
    """`keras.optimizers.SGD` with the schedule evaluated once per step (`_RateOncePerStep`)."""


@keras.saving.register_keras_serializable(package="keras_video")
class AdamW(_AdamScalarsOncePerStep, _RateOncePerStep, keras.optimizers.AdamW):
    """`keras.optimizers.AdamW` with the schedule evaluated once per step (`_RateOncePerStep`)
    and the update's scalars computed once per step (`_AdamScalarsOncePerStep`)."""


class StepDecayWithWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over `warmup_steps`, then `initial_learning_rate` multiplied by
    `factor` at each of `boundaries` (steps)."""

    def __init__(self, initial_learning_rate, boundaries, factor=0.1, warmup_steps=0):
        self.initial_learning_rate = float(initial_learning_rate)
        self.boundaries = [int(b) for b in boundaries]
        self.factor = float(factor)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        rate = keras.ops.convert_to_tensor(self.initial_learning_rate, "float32")
        for boundary in self.boundaries:
            rate = keras.ops.where(step >= boundary, rate * self.factor, rate)
        if self.warmup_steps:
            rate = rate * keras.ops.minimum(1.0, (step + 1.0) / self.warmup_steps)
        return rate

    def get_config(self):
        return dict(initial_learning_rate=self.initial_learning_rate, boundaries=self.boundaries,
                    factor=self.factor, warmup_steps=self.warmup_steps)


def build_schedule(config, steps_per_epoch):
    s, o = config["schedule"], config["optimizer"]
    rate, total = float(o["learning_rate"]), config["epochs"] * steps_per_epoch
    warmup = int(round(s["warmup_epochs"] * steps_per_epoch))
    if s["name"] == "cosine":
        if warmup >= total:
            raise ValueError(f"schedule.warmup_epochs ({s['warmup_epochs']}) must be shorter "
                             f"than the run ({config['epochs']} epochs)")
        if not warmup:
            return keras.optimizers.schedules.CosineDecay(rate, total)
        return keras.optimizers.schedules.CosineDecay(0.0, total - warmup, warmup_target=rate,
                                                      warmup_steps=warmup)
    if s["name"] == "step":
        boundaries = [int(e * steps_per_epoch) for e in s["step_epochs"]]
        return StepDecayWithWarmup(rate, boundaries, s["step_factor"], warmup)
    return StepDecayWithWarmup(rate, [], 1.0, warmup) if warmup else rate


def build_optimizer(config, steps_per_epoch):
    o = config["optimizer"]
    schedule = build_schedule(config, steps_per_epoch)
    common = dict(learning_rate=schedule, global_clipnorm=o["clipnorm"])
    if o["name"] == "sgd":
        return SGD(momentum=o["momentum"], nesterov=o["nesterov"],
                   weight_decay=o["weight_decay"] or None, **common)
    if o["name"] == "adamw":
        return AdamW(weight_decay=o["weight_decay"] or 0.0, **common)
    return keras.optimizers.Adam(**common)
