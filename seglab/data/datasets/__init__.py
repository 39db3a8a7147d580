"""Dataset types, one module per dataset family with its METAINFO beside it.

``base.BaseSegDataset`` reads any ``img_dir``/``ann_dir`` layout; the named datasets only fix classes,
palette, suffixes and ``reduce_zero_label``. Modules here are imported on first use through
``seglab.registry``; import a module directly for its class.
"""
