"""Price changes for existing subscribers: scheduled versions and their notices."""
