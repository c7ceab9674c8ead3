"""The Jielong application: settings, chat engine, model manager, UI and API."""
