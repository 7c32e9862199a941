"""Request and response models, one module per resource (XCreate in, XPublic out)."""
