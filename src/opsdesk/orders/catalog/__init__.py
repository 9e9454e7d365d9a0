"""The catalog: products, outlets and derived-item rules, edited over the API or imported from Excel or CSV."""
