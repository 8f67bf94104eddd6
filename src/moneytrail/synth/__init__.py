"""The synthetic world generator: a bundle in the data contract's formats, and its ground truth.

Everything it writes is made up: names come from small pools of common given
names and surnames, phone numbers, emails (on reserved `example.*` domains),
accounts and IP addresses are random. No record describes a real person.

Entry point: :func:`moneytrail.synth.world.generate`.
"""

from moneytrail.synth.world import WorldResult, generate

__all__ = ["WorldResult", "generate"]
