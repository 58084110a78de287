"""Model versions, in one place for the CLI, the API and the workers: ``checkpoints`` registers and loads
them (torch), ``files`` says where a version's checkpoint and report lie on this machine, ``lifecycle``
activates and deletes them with those files (no torch). Their rows are ``storage.versions``'."""
