"""What the Learn tab shows, as pure functions over a backend: tokens, distributions, embeddings."""
