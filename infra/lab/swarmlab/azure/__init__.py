"""The Azure lab: a local Azure for the product's Azure side. Real parts where they exist
(Azurite for Blob and Queue), faithful stand-ins that follow Microsoft's documented
contracts where they do not (the managed-identity endpoint, the management plane with
its template deployments, Key Vault), each in its own file."""
