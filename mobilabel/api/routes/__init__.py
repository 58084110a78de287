"""The API's routers, one module per resource (its URL prefix and tags in the module's ``router``)."""
