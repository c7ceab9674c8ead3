"""Conversations and how they become prompts."""
