"""One module per console page: a `router = page_router()`, handlers that call the domain's services, a template."""
