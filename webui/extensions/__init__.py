"""Extensions: hooks declared in `hooks`, loaded by `loader`, called by `manager.ExtensionManager`."""
