"""Optimizer and learning-rate schedule of a recipe: SGD with momentum or AdamW, decoupled
weight decay, linear warm-up into cosine or step decay (the papers' schedules)."""
import keras


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
        return keras.optimizers.SGD(momentum=o["momentum"], nesterov=o["nesterov"],
                                    weight_decay=o["weight_decay"] or None, **common)
    if o["name"] == "adamw":
        return keras.optimizers.AdamW(weight_decay=o["weight_decay"] or 0.0, **common)
    return keras.optimizers.Adam(**common)
