"""Where documents come from besides uploads: web crawls and git repositories, behind an SSRF guard."""
