"""The models folder: what is in it (catalog), and the settings remembered for each model."""
