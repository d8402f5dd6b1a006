"""Interest-free payment plans: a balance paid in monthly instalments from a card saved with Stripe."""
