"""A subscription system (a publisher's, a club's) that bills renewals and sends Bilagsbro signed events."""

from sandboxes.subscriptions.system import Subscriber, SubscriptionSystem

__all__ = ["Subscriber", "SubscriptionSystem"]
