"""The bulk engine: claims recipients, sends them through each number's scheduler, settles
outcomes in batches, and runs the lifecycle of every running bulk."""
