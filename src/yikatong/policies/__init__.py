"""One list (一张清单管制度): policies, annual policy lists, the project library and change requests."""
