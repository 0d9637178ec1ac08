"""What the sandbox's state is made from: the clock, fixtures and fake data. No Flask here."""
