"""One module per resource; each only translates HTTP to library calls and back."""
