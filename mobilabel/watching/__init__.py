"""`mobilabel watch`: label a growing library as files appear. A source lists (location, fingerprint)
pairs lazily (``sources``); the watcher diffs them against the stored fingerprints and hands what is new,
changed and complete to labelling in this process or to the workers (``watcher``, ``hand_off``)."""
