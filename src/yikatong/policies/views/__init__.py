"""Pages of the one list: policies, annual lists, the project library and change requests."""
