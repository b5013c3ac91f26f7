"""Deployment: MONAI Deploy App SDK applications (optional extra ``.[deploy]``) and PACS helpers (``pacs``).

Importing this package imports nothing optional: the SDK and pynetdicom are imported by the modules that
need them, with a message saying how to install them when they are missing.
"""
